/**
 * The local stack runs many inline updates in one Node process (`npm run local`, the e2e suite). Each update's engine
 * listens on a fresh loopback port, and a port is sometimes one an earlier update used. grpc-js shares subchannels
 * process-wide by address, so a new channel to a reused port inherited an old subchannel in TRANSIENT_FAILURE and the
 * update failed at once with "14 UNAVAILABLE: No connection established. Last error: null" (CI, stop 19). This is that
 * sequence with plain grpc-js and the SDK's own client options, the ones the inline program's clients are made with.
 */
import { expect } from "chai";
import * as grpc from "@grpc/grpc-js";
import { isolateInlineGrpcChannels } from "../../scripts/localStack";

// eslint-disable-next-line @typescript-eslint/no-var-requires
const settings = require("@pulumi/pulumi/runtime/settings") as { grpcClientOptions: grpc.ClientOptions };

const echo = {
    echo: {
        path: "/test.Echo/Echo", requestStream: false, responseStream: false,
        requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
    },
};
const Client = grpc.makeGenericClientConstructor(echo, "Echo");
type EchoClient = grpc.Client & { echo(req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void };

async function serve(port: number): Promise<{ port: number; server: grpc.Server }> {
    const server = new grpc.Server();
    server.addService(echo, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request) });
    const bound = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    return { port: bound, server };
}
const call = (c: EchoClient) => new Promise<string>((resolve) => c.echo(Buffer.from("ok"), (e, r) => resolve(e ? e.message : r!.toString())));
const client = (port: number) => new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), settings.grpcClientOptions) as unknown as EchoClient;

describe("inline updates in one process: a reused engine port never inherits an earlier update's failed gRPC connection", () => {
    it("a new client to a port an earlier, unclosed client saw fail connects to the new server", async () => {
        isolateInlineGrpcChannels();
        const first = await serve(0);
        const old = client(first.port);
        expect(await call(old)).to.equal("ok");
        first.server.forceShutdown();
        // The old client is left open, as a leaked or late channel is; its next call fails to connect, which puts
        // its subchannel in TRANSIENT_FAILURE (backoff 1 s and growing).
        expect(await call(old)).to.match(/UNAVAILABLE|No connection/);
        const second = await serve(first.port);
        try {
            const fresh = client(first.port);
            expect(await call(fresh), "the new client inherited the old subchannel's failure").to.equal("ok");
            fresh.close();
        } finally {
            old.close();
            second.server.forceShutdown();
        }
    });
});
