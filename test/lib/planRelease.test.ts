/**
 * The release plan (lib/plan/release.ts): one update resolved from the loaded config before any resource exists.
 * Pure: the stack files' configs, a working folder and an operator given, no resources and no servers.
 */
import { expect } from "chai";
import { LoadedConfig, parseStackConfig, StackSecrets } from "../../config";
import { applyRollback, releasePlan, rollbackTarget, seconds } from "../../lib/plan";
import { encodeConfig, stackConfig, withEdit } from "../helpers/stack";

const CWD = "/srv/deploy";
const ENV = { cwd: CWD, operator: "alice" };
type Edit = [string, string | undefined, unknown];

/** A stack file's config with edits, loaded as the program loads it (the secrets are not read by the plan). */
function loaded(stack: "staging" | "production", edits: Edit[] = []): LoadedConfig {
    const raw = edits.reduce((c, [k, p, v]) => withEdit(c, k, p, v), stackConfig(stack));
    const { config, namespace } = parseStackConfig(encodeConfig(raw));
    return { config, namespace, secrets: {} as StackSecrets, receivers: { slack: false, pagerduty: false } };
}
const at = (pct: number, mode = "feature-flag"): Edit[] => [["speculation:rolloutPercentage", undefined, pct], ["speculation:canary", "shiftMode", mode]];
const PREVIOUS_DIGEST = `sha256:${"ab".repeat(32)}`;
const digests: Edit[] = [["speculation:release", "images.speculation.previousDigest", PREVIOUS_DIGEST], ["speculation:release", "images.proofWorker.previousDigest", PREVIOUS_DIGEST]];

describe("release plan", () => {
    it("holds every duration in milliseconds, parsed once", () => {
        const plan = releasePlan(loaded("production", at(50)), ENV);
        expect(plan.gate).to.include({ pollMs: 60_000, timeoutMs: 10_000, deadlineSlackMs: 600_000, entryMs: 300_000, stepMs: 15_000, maxGapMs: 60_000 });
        expect(plan.gate.revert.deadlineMs).to.equal(300_000);
        expect(plan.stages.map((s) => [s.name, s.bakeMs, s.gate.deadlineMs])).to.deep.equal([
            ["stage-1-10pct", 4 * 3600_000, 4 * 3600_000 + 600_000], ["stage-2-25pct", 8 * 3600_000, 8 * 3600_000 + 600_000],
            ["stage-3-50pct", 24 * 3600_000, 24 * 3600_000 + 600_000],
        ]);
        expect(plan.preflight?.timeoutMs).to.equal(10_000);
        expect(plan.bench?.timeoutMs).to.equal(30 * 60_000);
        expect(seconds(plan.gate.pollMs), "a provider's …Seconds input").to.equal(60);
    });

    it("resolves every folder against the working folder and names the operator in the records", () => {
        const plan = releasePlan(loaded("production", at(50)), ENV);
        expect(plan.artifactsDir).to.equal(`${CWD}/deployment-artifacts/releases`);
        expect(plan.gate.artifactsDir).to.equal(`${CWD}/deployment-artifacts/gates`);
        expect(plan.bench).to.include({ resultsDir: `${CWD}/deployment-artifacts/benchmarks`, workingDir: CWD });
        expect(plan.records).to.include({ logFile: `${CWD}/deployment-artifacts/releases/deployments.log`, operator: "alice", environment: "production", timeoutMs: 10_000 });
    });

    it("resolves the addresses: the stable service in-cluster unless canary.gate.serviceUrl says otherwise", () => {
        expect(releasePlan(loaded("staging", at(10)), ENV).serviceUrl).to.equal("http://agenc-speculation.agenc-staging.svc.cluster.local:9090");
        const unset = loaded("production", [...at(10), ["speculation:canary", "gate.serviceUrl", undefined]]);
        const plan = releasePlan(unset, ENV);
        expect(plan.serviceUrl).to.equal("http://agenc-speculation.agenc-production.svc.cluster.local:9090");
        expect(plan.gate.serviceUrl).to.equal(plan.serviceUrl);
    });

    it("declares the stages up to the target, each with what its gate judges and what its shift raises", () => {
        const plan = releasePlan(loaded("staging", at(100, "ingress-weight")), ENV);
        const canary = "http://agenc-speculation-canary.agenc-staging.svc.cluster.local:9090";
        expect(plan.stages.map((s) => [s.name, s.gate.target.url, s.gate.raisedTrackUrl, s.switchesPrimary])).to.deep.equal([
            ["stage-1-10pct", canary, undefined, false], ["stage-2-50pct", canary, canary, false], ["stage-3-100pct", canary, canary, false],
        ]);
        expect(plan.stages.every((s) => s.gate.target.compare?.stableUrl === plan.serviceUrl)).to.equal(true);
        expect(plan.steps).to.deep.equal({ names: ["stage-1-10pct", "stage-2-50pct", "stage-3-100pct"], percentages: [10, 50, 100] });
        expect(plan.topPercentage).to.equal(100);
        expect(plan.newTrack).to.deep.include({ name: "agenc-speculation-canary", url: canary, replicas: 2 });
        expect(plan.newTrack?.smoke, "retried every 2 × the read's timeout (above one read), within the gate's poll").to.deep.equal({ timeoutMs: 10_000, deadlineMs: 600_000, pollMs: 20_000 });
    });

    it("blue-green: only the 100 % stage switches the primary Service; blue runs the previous version", () => {
        const plan = releasePlan(loaded("staging", at(100, "blue-green")), ENV);
        expect(plan.stages.map((s) => s.switchesPrimary)).to.deep.equal([false, false, true]);
        expect(plan.stable).to.include({ version: "v1.2.2", primarySelects: "agenc-speculation-green", newTrackServesPrimary: true });
        expect(plan.gate.failure.onFailure).to.equal("fail");
    });

    it("takes the bake mode from the config: window in production, watch elsewhere unless set", () => {
        expect(releasePlan(loaded("production", at(10)), ENV).gate.bakeMode).to.equal("window");
        expect(releasePlan(loaded("staging", at(10)), ENV).gate.bakeMode).to.equal("watch");
        expect(releasePlan(loaded("staging", [...at(10), ["speculation:canary", "gate.bakeMode", "window"], ["speculation:canary", "gate.prometheusUrl", "http://prom:9090"]]), ENV).gate.bakeMode).to.equal("window");
    });

    it("plans the release's runbook steps: preflight (production), smoke tests, bench, verification only at 100 %", () => {
        const plan = releasePlan(loaded("production", at(50)), ENV);
        expect(plan.rollback).to.equal(undefined);
        expect(plan.workloadVersion).to.equal("v1.2.3");
        expect(JSON.parse(plan.preflight!.trigger)).to.deep.equal({ version: "v1.2.3", previousVersion: "v1.2.2", rolloutPercentage: 50, rollback: "none" });
        expect(plan.smoke).to.include({ version: "v1.2.3", timeoutMs: 10_000 });
        expect(plan.bench?.limits.minThroughputPerSecond).to.equal(1000);
        expect(plan.verify).to.equal(undefined);
        expect(releasePlan(loaded("production", at(100)), ENV).verify).to.deep.equal({ timeoutMs: 10_000 });
    });

    it("a full rollback: target previousVersion, no stages, no bench, no preflight, the drain's timings", () => {
        const original = loaded("production", [...at(50), ...digests, ["speculation:rollback", "mode", "full"]]);
        const plan = releasePlan(original, ENV);
        expect(plan.rollback).to.deep.equal({ mode: "full", targetVersion: "v1.2.2", drain: { maxPending: 10, pollMs: 15_000, deadlineMs: 600_000 } });
        expect(plan.workloadVersion).to.equal("v1.2.2");
        expect(plan.smoke?.version, "the smoke tests verify the version the workloads went back to").to.equal("v1.2.2");
        expect([plan.stages, plan.topPercentage, plan.bench, plan.preflight]).to.deep.equal([[], 0, undefined, undefined]);
        expect(plan.config.service.speculationEnabled).to.equal(false);
        expect(original.config.rolloutPercentage, "the loaded config is left as it was").to.equal(50);
    });

    it("an emergency rollback goes to lastKnownGood when set", () => {
        const config = loaded("staging", [["speculation:rollback", "mode", "emergency"], ["speculation:rollback", "lastKnownGood", "v1.2.1"]]).config;
        expect(rollbackTarget(config)).to.equal("v1.2.1");
        expect(rollbackTarget(loaded("staging").config)).to.equal(undefined);
        expect(applyRollback(loaded("staging", at(50))).config.rolloutPercentage, "no rollback: the config as loaded").to.equal(50);
    });

    it("plans the watchdog and the node batch gate only where they run", () => {
        const plan = releasePlan(loaded("staging", at(10)), ENV);
        expect(plan.watchdog).to.deep.equal({
            revertDeadlineMs: 120_000, serviceUrl: "http://agenc-speculation.agenc-staging.svc.cluster.local:9090",
            // Staging's watchdog.prometheusUrl (operator monitoring, gates reading Alertmanager only): where it polls the triggers.
            prometheusUrl: "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090",
        });
        expect(plan.nodeBatchGate, "no hosts").to.equal(undefined);
        expect(releasePlan(loaded("staging", [...at(10), ["speculation:watchdog", "enabled", false]]), ENV).watchdog).to.equal(undefined);
    });

    it("is a function of its inputs: the same config plans the same release", () => {
        const config = loaded("production", [...at(100, "ingress-weight"), ...digests]);
        const strip = (p: ReturnType<typeof releasePlan>) => JSON.parse(JSON.stringify({ ...p, loaded: undefined, shift: p.shift.mode }));
        expect(strip(releasePlan(config, ENV))).to.deep.equal(strip(releasePlan(config, ENV)));
    });
});
