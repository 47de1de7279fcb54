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
