/**
 * One SSH session to one node (ssh2): the host key must equal the pinned key from config — a mismatch is a refusal,
 * never a prompt or a bypass — and the private key comes from the stack's secret.
 */
import type { Client, ConnectConfig } from "ssh2";
import type { NodeAddress } from "./address";

export type { NodeAddress };

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

export type SshErrorReason = "host-key-mismatch" | "connect" | "timeout" | "exec" | "upload";
export type SshError = Error & { reason: SshErrorReason };

/** A plain Error with a reason (a subclass of Error loses its message in a serialised dynamic provider). */
export function sshError(message: string, reason: SshErrorReason): SshError {
    return Object.assign(new Error(message), { name: "SshError", reason });
}

/** The raw public key blob of a pinned "type base64" key. */
export function pinnedKeyBlob(hostKey: string): Buffer {
    const [type, b64] = hostKey.trim().split(/\s+/);
    if (!type || !b64) throw sshError(`host key "${hostKey}" is not "<type> <base64>"`, "host-key-mismatch");
    return Buffer.from(b64, "base64");
}

export interface NodeSession {
    exec(command: string, timeoutMs?: number): Promise<ExecResult>;
    upload(localPath: string, remotePath: string, mode?: number): Promise<void>;
    close(): void;
}

export function connect(node: NodeAddress, privateKey: string, timeoutMs = 15_000): Promise<NodeSession> {
    const { Client } = require("ssh2") as typeof import("ssh2");
    const expected = pinnedKeyBlob(node.hostKey);
    return new Promise((resolve, reject) => {
        const client: Client = new Client();
        let presented: Buffer | undefined;
        let settled = false;
        const fail = (e: Error) => { if (!settled) { settled = true; client.end(); reject(e); } };
        client.on("ready", () => {
            settled = true;
            resolve(session(client, node));
        });
        client.on("error", (e: Error) => {
            if (presented && !presented.equals(expected)) {
                fail(sshError(`${node.name} (${node.host}:${node.port}) presented a host key that is not the pinned one: refused`, "host-key-mismatch"));
            } else {
                fail(sshError(`${node.name} (${node.host}:${node.port}): ${e.message}`, /timed out/i.test(e.message) ? "timeout" : "connect"));
            }
        });
        const config: ConnectConfig = {
            host: node.host, port: node.port, username: node.user, privateKey, readyTimeout: timeoutMs,
            // Only the pinned key's algorithm is offered, so the server cannot present another of its keys.
            algorithms: { serverHostKey: [node.hostKey.split(/\s+/)[0] as never] },
            hostVerifier: (key: Buffer) => {
                presented = key;
                return key.equals(expected);
            },
        };
        client.connect(config);
    });
}

function session(client: Client, node: NodeAddress): NodeSession {
    // A dropped connection fails whatever is in flight at once instead of leaving it hanging.
    const pending = new Set<(e: Error) => void>();
    const dropped = () => { for (const reject of pending) reject(sshError(`${node.name}: connection closed`, "connect")); pending.clear(); };
    client.on("close", dropped);
    client.on("error", dropped);
    const tracked = <T>(run: (resolve: (v: T) => void, reject: (e: Error) => void) => void) => new Promise<T>((resolve, reject) => {
        const fail = (e: Error) => { pending.delete(fail); reject(e); };
        pending.add(fail);
        run((v) => { pending.delete(fail); resolve(v); }, fail);
    });
    return {
        exec: (command, timeoutMs = 120_000) => tracked<ExecResult>((resolve, reject) => {
            client.exec(command, (err, stream) => {
                if (err) return reject(sshError(`${node.name}: cannot run a command: ${err.message}`, "exec"));
                let stdout = "";
                let stderr = "";
                const timer = setTimeout(() => {
                    stream.close();
                    reject(sshError(`${node.name}: command did not finish within ${timeoutMs} ms: ${command}`, "timeout"));
                }, timeoutMs);
                stream.on("data", (c: Buffer) => (stdout += c));
                stream.stderr.on("data", (c: Buffer) => (stderr += c));
                stream.on("close", (code: number | null) => {
                    clearTimeout(timer);
                    resolve({ code: code ?? -1, stdout, stderr });
                });
            });
        }),
        upload: (localPath, remotePath, mode = 0o644) => tracked<void>((resolve, reject) => {
            client.sftp((err, sftp) => {
                if (err) return reject(sshError(`${node.name}: no SFTP: ${err.message}`, "upload"));
                sftp.fastPut(localPath, remotePath, { mode }, (e) => {
                    sftp.end();
                    if (e) reject(sshError(`${node.name}: upload of ${remotePath} failed: ${e.message}`, "upload"));
                    else resolve();
                });
            });
        }),
        close: () => client.end(),
    };
}
