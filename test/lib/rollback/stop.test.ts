/**
 * The emergency stop's decisions with a scripted cluster and clock: what it scales, when it calls the release's pods
 * gone, and that anything it cannot confirm fails closed.  On a real API server: test/k8s/rollback.int.test.ts.
 */
import { expect } from "chai";
import { Kube, StopClock, stopWorkloads } from "../../../lib/rollback/stop";
import { reportTable } from "../../../lib/runbook/steps";

/** A cluster whose pods go away after `polls` lists each (Infinity: never). */
function cluster(deployments: Record<string, { pods: number; goneAfterPolls: number }>, errors: { scale?: string; list?: string } = {}) {
    const scaled: string[] = [];
    const listed: Record<string, number> = {};
    const kube: Kube = {
        async selectorOf(_ns, name) { return deployments[name] ? { app: name } : undefined; },
        async scaleToZero(_ns, name) {
            if (errors.scale) throw new Error(errors.scale);
            scaled.push(name);
        },
        async podsOf(_ns, selector) {
            if (errors.list) throw new Error(errors.list);
            const name = selector.app;
            listed[name] = (listed[name] ?? 0) + 1;
            const d = deployments[name];
            return listed[name] > d.goneAfterPolls ? [] : Array.from({ length: d.pods }, (_, i) => `${name}-pod-${i}`);
        },
    };
    return { kube, scaled };
}

function clock(): StopClock & { slept: number[] } {
    let t = 1_000_000;
    const slept: number[] = [];
    return { slept, now: () => t, sleep: async (ms) => { slept.push(ms); t += ms; } };
}

const spec = { namespace: "agenc-production", deployments: ["proof-workers", "agenc-speculation", "agenc-speculation-canary"], deadlineSeconds: 60, pollSeconds: 2 };

describe("the emergency stop: the release's Deployments to 0 and their pods gone, before any replacement", () => {
    it("scales every Deployment that exists, waits poll by poll until no pod is left, and skips the absent ones", async () => {
        const { kube, scaled } = cluster({ "proof-workers": { pods: 3, goneAfterPolls: 2 }, "agenc-speculation": { pods: 2, goneAfterPolls: 1 } });
        const lines: string[] = [];
        const c = clock();
        const report = await stopWorkloads(spec, kube, (l) => lines.push(l), c);
        expect(report.verdict, reportTable(report)).to.equal("pass");
        expect(scaled).to.deep.equal(["proof-workers", "agenc-speculation"]);
        expect(report.checks.map((r) => [r.name, r.verdict])).to.deep.equal([
            ["stop-proof-workers", "pass"], ["stop-agenc-speculation", "pass"], ["stop-agenc-speculation-canary", "skip"]]);
        expect(c.slept).to.deep.equal([2000, 2000]);
        expect(lines).to.include("[emergency-stop] waiting for proof-workers: 3 pod(s) left, agenc-speculation: 2 pod(s) left (0 s of 60 s)");
        expect(lines).to.include("[emergency-stop] waiting for proof-workers: 3 pod(s) left (2 s of 60 s)");
    });

    it("fails at the deadline naming the pods still there", async () => {
        const { kube } = cluster({ "proof-workers": { pods: 1, goneAfterPolls: Infinity }, "agenc-speculation": { pods: 0, goneAfterPolls: 0 } });
        const report = await stopWorkloads({ ...spec, deadlineSeconds: 10 }, kube, () => undefined, clock());
        expect(report.verdict).to.equal("fail");
        const pw = report.checks.find((r) => r.name === "stop-proof-workers")!;
        expect(pw.verdict).to.equal("fail");
        expect(pw.observed).to.equal("1 pod(s) left after 10 s: proof-workers-pod-0");
    });

    it("fails closed when it cannot scale or cannot list the pods", async () => {
        const noScale = await stopWorkloads(spec, cluster({ "proof-workers": { pods: 1, goneAfterPolls: 0 } }, { scale: "forbidden" }).kube, () => undefined, clock());
        expect(noScale.verdict).to.equal("fail");
        expect(noScale.checks[0].observed).to.equal("error: forbidden");
        const noList = await stopWorkloads({ ...spec, deadlineSeconds: 4 }, cluster({ "proof-workers": { pods: 1, goneAfterPolls: 0 } }, { list: "connection refused" }).kube, () => undefined, clock());
        expect(noList.verdict).to.equal("fail");
        expect(noList.checks[0].observed).to.match(/^1 pod\(s\) left after 4 s: \(cannot list pods: connection refused\)$/);
    });
});
