/**
 * Every dynamic provider is closure-serialised into the state by the engine: each must serialise, and must not
 * capture native code or a module that holds it (the bug the BenchRun provider had: a zod schema at module level).
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { benchRunProvider } from "../../providers/benchRun";
import { errorBaselineProvider } from "../../providers/errorBaseline";
import { healthGateProvider } from "../../providers/healthGate";
import { trafficShiftProvider } from "../../providers/trafficShift";
import { deserialised } from "../helpers/deserialise";

const providers: [string, pulumi.dynamic.ResourceProvider, string][] = [
    ["TrafficShift", trafficShiftProvider, "setRolloutPercentage"],
    ["ErrorBaseline", errorBaselineProvider, "captureBaseline"],
    ["HealthGate", healthGateProvider, "runGate"],
    ["BenchRun", benchRunProvider, "judgeBench"],
];

describe("dynamic provider serialisation", function () {
    this.timeout(30_000);
    for (const [name, provider, uses] of providers) {
        it(`${name} serialises with its logic and without native code`, async () => {
            const { text } = await pulumi.runtime.serializeFunction(() => provider, { isFactoryFunction: true });
            expect(text).to.include(uses);
            expect(text).to.not.match(/\[native code\]|\.node"/);
        });
    }
});

describe("dynamic providers as the engine runs them (deserialised)", function () {
    this.timeout(30_000);
    it("keep their error messages (a subclass of Error lost them: found under the real engine)", async () => {
        const shift = await deserialised(trafficShiftProvider);
        const err = await shift.create({ serviceUrl: "http://127.0.0.1:9", adminToken: "t", percentage: 10, previousPercentage: 0, stage: "s" })
            .then(() => undefined, (e: Error & { reason?: string }) => e);
        expect(err?.message).to.match(/^http:\/\/127\.0\.0\.1:9\/admin\/config: unreachable/);
        expect(err?.reason).to.equal("unreachable");
    });
});
