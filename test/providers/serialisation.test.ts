/**
 * Every dynamic provider is closure-serialised into the state by the engine: each must serialise, and must not
 * capture native code or a module that holds it (the bug the BenchRun provider had: a zod schema at module level).
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { bakeWindowProvider } from "../../providers/bakeWindow";
import { benchRunProvider } from "../../providers/benchRun";
import { deploymentRecordProvider } from "../../providers/deploymentRecord";
import { errorBaselineProvider } from "../../providers/errorBaseline";
import { healthGateProvider } from "../../providers/healthGate";
import { preflightProvider } from "../../providers/preflight";
import { releaseSmokeTestProvider } from "../../providers/releaseSmoke";
import { rollbackDrainProvider } from "../../providers/rollbackDrain";
import { emergencyStopProvider } from "../../providers/emergencyStop";
import { trafficShiftProvider } from "../../providers/trafficShift";
import { verificationProvider } from "../../providers/verification";
import { signatureVerificationProvider } from "../../providers/signatureVerification";
import { deserialised } from "../helpers/deserialise";

const providers: [string, pulumi.dynamic.ResourceProvider, string][] = [
    ["TrafficShift", trafficShiftProvider, "setRolloutPercentage"],
    ["ErrorBaseline", errorBaselineProvider, "publishStageBaseline"],
    ["HealthGate", healthGateProvider, "runGate"],
    ["BenchRun", benchRunProvider, "judgeBench"],
    // The runbook steps, built by one skeleton (providers/runbookStep.ts): each carries its own step with it.
    ["Preflight", preflightProvider, "runPreflight"],
    ["ReleaseSmokeTest", releaseSmokeTestProvider, "runSmokeTests"],
    ["Verification", verificationProvider, "runVerification"],
    ["RollbackDrain", rollbackDrainProvider, "disableAndDrain"],
    ["EmergencyStop", emergencyStopProvider, "stopWorkloads"],
    ["DeploymentRecord", deploymentRecordProvider, "pushRecord"],
    ["BakeWindow", bakeWindowProvider, "evaluateBakeWindow"],
    ["SignatureVerification", signatureVerificationProvider, "verifyRelease"],
];

describe("dynamic provider serialisation", function () {
    this.timeout(30_000);
    for (const [name, provider, uses] of providers) {
        it(`${name} serialises with its logic and without native code`, async () => {
            const { text } = await pulumi.runtime.serializeFunction(() => provider, { isFactoryFunction: true });
            expect(text).to.include(uses);
            expect(text).to.not.match(/\[native code\]|\.node"/);
            // A relative require inside a method resolves against the engine's provider host, not this project: a
            // local module must be imported at the top and captured by value (ErrorBaseline's baseline push did not).
            expect(text, "a relative require() in a serialised provider").to.not.match(/require\(["']\.\.?\//);
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
