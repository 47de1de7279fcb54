/**
 * The chaos matrix as data: one entry per fault, `short: true` for the ones CI runs (test/e2e/chaos.e2e.ts, `npm run
 * chaos -- --short`).  Each entry says when its fault is injected, how it is injected, what "detected" and "safe"
 * mean for it, and what the `up` may end as; reference/chaos/run.ts runs it and reference/chaos/harness.ts checks
 * what every fault must satisfy (no process left, no record for a dead update, truthful records, nothing lost).
 *
 * Where the local default has no network namespace between two parts (everything listens on loopback; the SSH nodes
 * have mount namespaces only), a partition is simulated by freezing the far end (SIGSTOP: connections hang, nothing
 * answers, as behind a dropped route) or by the reference's own fault knobs; each entry says which.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { writeAlysBinary } from "../sshFleet";
import type { ChaosContext } from "./harness";
import { filesWrittenAfter, RELEASE, PREVIOUS } from "./harness";
import { ensureFaketime, skewedClockEnv } from "./clock";
import { DEPLOYMENT as ESTOP_DEPLOYMENT, emergencyStopCluster, NAMESPACE as ESTOP_NAMESPACE } from "./emergencyStop";
import { Link, startLink } from "./link";
import { WATCHDOG_PARTITION } from "./watchdogPartition";
import type { ChaosFault, KillFault } from "./run";

/** The engine's output shows a dynamic resource of `type` being created or updated. */
const stepRunning = (type: string) => (ctx: ChaosContext) => new RegExp(`dynamic/agenc:${type} \\S+ (creating|updating)`).test(ctx.output());
const nodeAt = (i: number, ...steps: string[]) => (ctx: ChaosContext) => steps.includes(ctx.nodeState(i)?.step ?? "");
/** Every node runs the previous version and answers healthy: the fleet is restored. */
const fleetOn = (version: string) => async (ctx: ChaosContext) =>
    (await Promise.all(ctx.nodes.map((_, i) => ctx.runningVersion(i)))).every((v) => v === version);
const trafficAt0 = (ctx: ChaosContext) => ctx.env.service.state.rolloutPercentage === 0;
const lastNodeRecord = (ctx: ChaosContext) => ctx.nodeRecords().filter((r) => Date.parse(r.date) >= ctx.startedAt - 1000).pop();

/** A node binary that answers --version with the release but crashes as soon as it starts serving. */
function crashingBinary(ctx: ChaosContext): string {
    const file = path.join(ctx.env.workDir, "alys-crashing");
    fs.writeFileSync(file, `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "alys ${RELEASE}"; exit 0; fi\necho "alys ${RELEASE}: panic at start" >&2\nexit 1\n`);
    fs.chmodSync(file, 0o755);
    return file;
}

/** A Deployment's desired replicas, through kubectl with the engine's KUBECONFIG (undefined when it cannot be read). */
function replicasOf(ctx: ChaosContext, namespace: string, name: string): number | undefined {
    try {
        const out = execFileSync("kubectl", ["-n", namespace, "get", "deployment", name, "-o", "jsonpath={.spec.replicas}"],
            { env: { ...process.env, KUBECONFIG: ctx.env.envVars.KUBECONFIG, PATH: ctx.env.envVars.PATH ?? process.env.PATH }, timeout: 5000, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
        return out.trim() === "" ? undefined : Number(out.trim());
    } catch { return undefined; }
}

/** sha256 of a file, hex. */
const sha256Of = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** What a node's installed binary answers to --version (undefined while it cannot run: half copied, missing). */
function installedVersion(ctx: ChaosContext, i: number): string | undefined {
    try { return ctx.env.fleet!.installedVersion(ctx.nodes[i]); } catch { return undefined; }
}

/** Runs a shell command inside a node's mount namespace (where it sees /opt/alys and /var/backups/alys). */
function onNode(ctx: ChaosContext, i: number, command: string): void {
    const n = ctx.nodes[i];
    execFileSync("nsenter", ["-t", String(n.sshd.pid), "-m", "--", "sh", "-c", command], { env: { ...process.env, NODE_HOME: n.home, NODE_PORT: String(n.httpPort) } });
}

type KillExtra = Partial<Pick<KillFault, "bench" | "from" | "prepare" | "config" | "when">> & { why?: string };
/** The dynamic provider kinds (providers/*.ts) and what it takes to reach each one's step on the local default. */
const KILLS: [string, boolean, KillExtra][] = [
    ["Preflight", false, {}],
    ["ReleaseSmokeTest", false, {}],
    ["BenchRun", true, { bench: true, why: "the bench command measuring", when: (ctx) => ctx.processes().some((p) => /bench --url/.test(p.cmd)) }],
    ["ErrorBaseline", false, {}],
    ["TrafficShift", false, {}],
    ["HealthGate", false, {}],
    ["SshRollout", false, { why: "node-1 switched", when: nodeAt(0, "switched") }],
    ["DeploymentRecord", true, {}],
    ["BakeWindow", false, { from: 10, why: "the 50 % up judging stage 1's bake" }],
    ["Verification", false, { from: 50, why: "the 100 % up verifying" }],
    ["RollbackDrain", false, {
        from: 10, why: "a full rollback draining 5000 pending operations that never settle",
        prepare: (ctx) => { ctx.env.service.setFaults({ pendingOperations: 5000, drainPerSecond: 0 }); },
        config: (c, _ctx, faulted) => { if (faulted) c["speculation:rollback"] = { mode: "full", drainTimeout: "60s", drainPollInterval: "1s" }; },
    }],
];

export const CHAOS_MATRIX: ChaosFault[] = [
    // Node failures.
    {
        kind: "up", name: "node-crash-after-swap", group: "node", short: true,
        fault: "node-1's new binary crashes as soon as it starts (after the swap)",
        prepare: (ctx) => { ctx.data.binary = crashingBinary(ctx); },
        when: nodeAt(0, "switched"),
        inject: () => undefined,
        detected: (ctx) => ctx.nodeState(0)?.step === "failed" || !!ctx.nodeState(0)?.aborting,
        safe: async (ctx) => ctx.nodeState(0)?.step === "restored" && await fleetOn(PREVIOUS)(ctx),
        expect: ["failed"],
        check: (ctx) => lastNodeRecord(ctx)?.status === "rolled-back" ? [] : [`node record ${lastNodeRecord(ctx)?.status ?? "missing"}, expected rolled-back`],
    },
    {
        kind: "up", name: "sshd-killed-mid-upload", group: "node", short: true,
        fault: "node-2's sshd killed (listener and sessions) while its 20 MB binary uploads; node-1 already switched",
        prepare: (ctx) => { ctx.data.binary = writeAlysBinary(path.join(ctx.env.workDir, "alys-big"), RELEASE, true, 20 * 1024 * 1024); },
        // The padded program takes a few seconds to start under load.
        config: (c) => { c["speculation:nodes"].healthRetries = 30; },
        when: nodeAt(1, "backed-up"),
        inject: (ctx) => {
            const n = ctx.nodes[1];
            ctx.env.fleet!.dropSessions(n);
            n.sshd.kill("SIGKILL");
        },
        detected: (ctx) => !!ctx.nodeState(0)?.aborting || lastNodeRecord(ctx) !== undefined,
        // node-1 back on the previous version; node-2 (unreachable) still runs it, its install untouched.
        safe: async (ctx) => ctx.nodeState(0)?.step === "restored" && await fleetOn(PREVIOUS)(ctx),
        expect: ["failed"],
    },
    {
        kind: "up", name: "node-lost-mid-restore", group: "node", short: false,
        fault: "node-1's new binary crashes at start, so the rollout restores it; mid-restore (its backup copied back, the restart's grace running) " +
            "node-1 crashes — sshd, its sessions, the restore's shell and its service all killed — and boots again once the up has ended",
        prepare: (ctx) => {
            ctx.data.binary = crashingBinary(ctx);
            ctx.data.previousSha = sha256Of(path.join(ctx.nodes[0].home, "opt/alys/bin/alys"));
        },
        // The restore's restart grace (nodes.nodeGrace: the first node's swap has firstNodeGrace) holds the node mid-restore for 3 s.
        config: (c) => { c["speculation:nodes"].nodeGrace = "3s"; },
        // Mid-restore: the rollout is restoring node-1 (aborting, not restored) and its backup is already copied back.
        when: (ctx) => {
            const s = ctx.nodeState(0);
            return !!s?.aborting && s.step !== "restored" && installedVersion(ctx, 0) === PREVIOUS;
        },
        inject: (ctx) => ctx.env.fleet!.crash(ctx.nodes[0]),
        detected: (ctx) => lastNodeRecord(ctx) !== undefined,
        // Safe: the up stopped with a record that claims no restore, and the untouched node still runs the previous version.
        safe: async (ctx) => ctx.up?.outcome() !== "running" && lastNodeRecord(ctx)?.status === "restore-failed" && await ctx.runningVersion(1) === PREVIOUS,
        heal: (ctx) => ctx.env.fleet!.boot(ctx.nodes[0]),
        expect: ["failed"],
        check: (ctx) => {
            const problems: string[] = [];
            const rec = lastNodeRecord(ctx);
            if (rec?.status !== "restore-failed") problems.push(`node record ${rec?.status ?? "missing"}: a restore the node never finished must be restore-failed, never rolled-back`);
            if (rec?.nodes?.["node-1"] === "restored") problems.push("node record: node-1 restored, but its restore never finished");
            // The backup the rollout took is intact: byte for byte the binary node-1 ran before.
            const backup = ctx.nodeState(0)?.backup;
            const copy = backup ? path.join(ctx.nodes[0].home, "backups/rollback", path.basename(backup), "bin/alys") : undefined;
            if (!copy || !fs.existsSync(copy)) problems.push(`node-1's backup ${backup ?? "(not in its state)"} is missing`);
            else if (sha256Of(copy) !== ctx.data.previousSha) problems.push(`node-1's backup ${backup} is not the binary it ran before (sha256 differs)`);
            return problems;
        },
        // Booted again, the node is unsettled (its state: aborting, not concluded); the next up of the same release
        // resumes its restore (nodeState.ts settlementOf: its own rollout is not refused) and concludes it.
        after: async (ctx) => {
            const problems: string[] = [];
            const started = Date.now();
            const unsettled = ctx.nodeState(0);
            if (!unsettled?.aborting || unsettled.concluded) problems.push(`after the crash node-1's state is ${JSON.stringify(unsettled)}: it must still say it was being restored`);
            const up = await ctx.nextUp();
            const rec = ctx.nodeRecords().filter((r) => Date.parse(r.date) >= started).pop();
            const s = ctx.nodeState(0);
            if (!/resuming rollout \S+ of \S+ \(stamp \S+\) from the nodes' own state/.test(up.output())) problems.push("the next up did not resume the rollout from the nodes' own state");
            if (rec?.status !== "rolled-back" || rec.nodes?.["node-1"] !== "restored") problems.push(`the next up's node record: ${JSON.stringify(rec?.status)} ${JSON.stringify(rec?.nodes)}, expected rolled-back with node-1 restored`);
            if (!s?.concluded || s.step !== "restored") problems.push(`after the next up node-1's state is ${JSON.stringify(s)}: expected restored and concluded`);
            if (!await fleetOn(PREVIOUS)(ctx)) problems.push(`after the next up the fleet runs ${JSON.stringify(await Promise.all(ctx.nodes.map((_, i) => ctx.runningVersion(i))))}, not ${PREVIOUS} everywhere`);
            let kept: string | undefined;
            try { kept = ctx.env.fleet!.backupVersion(ctx.nodes[0], path.basename(s?.backup ?? "")); } catch { kept = undefined; }
            if (kept !== PREVIOUS) problems.push(`after the next up node-1's backup ${s?.backup ?? "(none)"} holds ${kept ?? "nothing readable"}, not ${PREVIOUS}`);
            ctx.notes.push(`after the node booted, the next up (${up.outcome()}, ${((Date.now() - started) / 1000).toFixed(1)} s) resumed the restore: node record ${rec?.status}, node-1 ${rec?.nodes?.["node-1"]}`);
            return problems;
        },
    },
    // Network partitions.
    {
        kind: "up", name: "deployer-prometheus-partition", group: "partition", short: true,
        fault: "the deployer's link to Prometheus cut (a black-hole relay; no namespace on loopback) at the 50 % up's first range query: stage 1's bake window",
        from: 10,
        setup: async (ctx) => { ctx.data.link = await startLink(ctx.env.monitoring.prometheusUrl); },
        config: (c, ctx) => { c["speculation:canary"].gate.prometheusUrl = (ctx.data.link as Link).url; },
        when: () => true,
        inject: (ctx) => (ctx.data.link as Link).arm(/^GET \/api\/v1\/query_range/),
        tookEffectAt: (ctx) => (ctx.data.link as Link).cutAt,
        detected: (ctx) => (ctx.data.link as Link).cutAt !== undefined && /\[window stage-1-10pct\][^\n]*(fail|no data|unobservable|timed out|timeout|gap)/i.test(ctx.output()),
        // Safe: the update stopped on it and traffic never went past the judged stage's 10 % (a revert takes it to 0).
        safe: (ctx) => ctx.up?.outcome() === "failed" && ctx.env.service.state.rolloutPercentage <= 10,
        heal: async (ctx) => { await (ctx.data.link as Link).close(); },
        expect: ["failed"],
    },
    {
        kind: "up", name: "node-reboot-mid-rollout", group: "node", short: false,
        fault: "node-2 reboots right after its swap (its 20 MB program still starting): its sessions drop, its service dies and comes back from what is installed",
        prepare: (ctx) => { ctx.data.binary = writeAlysBinary(path.join(ctx.env.workDir, "alys-big"), RELEASE, true, 20 * 1024 * 1024); },
        config: (c) => { c["speculation:nodes"].healthRetries = 30; },
        when: nodeAt(1, "switched"),
        inject: (ctx) => {
            ctx.env.fleet!.dropSessions(ctx.nodes[1]);
            onNode(ctx, 1, 'kill "$(cat "$NODE_HOME/run.pid")" 2>/dev/null; sh "$NODE_HOME/restart.sh"');
        },
        detected: (ctx) => lastNodeRecord(ctx) !== undefined,
        // Whole again: every node answers on one version (all the new one, or all restored).
        safe: async (ctx) => lastNodeRecord(ctx) !== undefined && (await fleetOn(PREVIOUS)(ctx) || await fleetOn(RELEASE)(ctx)),
        expect: ["succeeded", "failed"],
    },
    {
        kind: "up", name: "node-disk-full-upload", group: "exhaustion", short: false,
        fault: "node-1's /opt/alys/bin is a 1 MB tmpfs (mounted in its namespace) and the release binary is 20 MB: the disk fills mid-upload",
        prepare: (ctx) => {
            ctx.data.binary = writeAlysBinary(path.join(ctx.env.workDir, "alys-big"), RELEASE, true, 20 * 1024 * 1024);
            onNode(ctx, 0, "cp -a /opt/alys/bin /tmp/alys-bin && mount -t tmpfs -o size=1m tmpfs /opt/alys/bin && cp -a /tmp/alys-bin/. /opt/alys/bin/");
        },
        when: nodeAt(0, "backed-up"),
        inject: () => undefined,
        detected: (ctx) => lastNodeRecord(ctx) !== undefined,
        safe: async (ctx) => lastNodeRecord(ctx) !== undefined && await fleetOn(PREVIOUS)(ctx),
        expect: ["failed"],
    },
    // Byzantine behaviour.
    {
        kind: "up", name: "node-healthy-wrong-version", group: "byzantine", short: false,
        fault: "every node's restart command succeeds without restarting: the old program keeps answering healthy while the new binary sits on disk",
        config: (c) => { c["speculation:nodes"].restartCommand = "true"; },
        when: nodeAt(0, "switched"),
        inject: () => undefined,
        detected: (ctx) => ["failed", "restored"].includes(ctx.nodeState(0)?.step ?? "") || lastNodeRecord(ctx)?.status !== undefined && lastNodeRecord(ctx)?.status !== "deployed",
        safe: async (ctx) => lastNodeRecord(ctx) !== undefined && await fleetOn(PREVIOUS)(ctx),
        expect: ["failed"],
    },
    {
        kind: "up", name: "wrong-version-label", group: "byzantine", short: false,
        fault: "the service reports v9.9.9 (health, build info) once the stage-1 gate starts",
        when: stepRunning("HealthGate"),
        inject: (ctx) => { ctx.env.service.state.version = "v9.9.9"; },
        detected: (ctx) => /v9\.9\.9/.test(ctx.output()),
        safe: (ctx) => trafficAt0(ctx) && ctx.up?.outcome() !== "running",
        expect: ["failed"],
    },
    {
        kind: "up", name: "counters-reset-mid-window", group: "byzantine", short: false,
        fault: "every counter of the service goes back to zero (a restart) while the stage-1 gate samples",
        when: (ctx) => /\[gate stage-1-10pct\] entry analysis sample 1/.test(ctx.output()),
        inject: (ctx) => ctx.env.service.resetCounters(),
        detected: (ctx) => ctx.up?.outcome() !== "running",
        // Whatever the gate made of it, the update ended with traffic at no more than the stage's 10 %.
        safe: (ctx) => ctx.up?.outcome() !== "running" && ctx.env.service.state.rolloutPercentage <= 10,
        expect: ["succeeded", "failed"],
    },
    {
        kind: "up", name: "admin-200-not-applied", group: "byzantine", short: true,
        fault: "the admin API answers 200 to every config write and applies none",
        when: () => true,
        inject: (ctx) => { ctx.env.service.setFaults({ adminIgnoresWrites: true }); },
        detected: (ctx) => /reads 0 after setting 10/.test(ctx.output()),
        // Safe: the update stopped on the lie with traffic still at 0 % (it never moved).
        safe: (ctx) => trafficAt0(ctx) && ctx.up?.outcome() !== "running",
        expect: ["failed"],
        check: (ctx) => ctx.releaseRecords().filter((r) => Date.parse(r.date) >= ctx.startedAt - 1000 && r.rolloutPercentage > 0)
            .map((r) => `release record claims ${r.rolloutPercentage} % that never applied`),
    },
    {
        kind: "up", name: "deployer-clock-skew", group: "byzantine", short: false,
        fault: "the deployer's clock 10 minutes ahead of Prometheus's (libfaketime, FAKETIME=+600 in every process of the 50 % up) when stage 1's bake window is judged",
        from: 10,
        preflight: (log) => { ensureFaketime(log); },
        upEnv: () => skewedClockEnv(600),
        when: () => true,
        inject: () => undefined,
        // The skew is there from the start; it takes effect when a step judges by the clock: stage 1's window.
        tookEffectAt: (ctx) => (ctx.data.judgedAt ??= /\[window stage-1-10pct\] (judging|the bake window)/.test(ctx.output()) ? Date.now() : undefined) as number | undefined,
        // The provider measured its own clock against Prometheus's: the skew it names is the faked one.
        detected: (ctx) => /\[window stage-1-10pct\][^\n]*not judged: this machine's clock is (59\d|60\d)\.\d s ahead of Prometheus's/.test(ctx.output()),
        // Safe: the promotion refused and nothing changed — stage 1 keeps its 10 % (no stage-2 shift, no revert for a clock fault).
        safe: (ctx) => ctx.up?.outcome() !== "running" && ctx.env.service.state.rolloutPercentage === 10,
        expect: ["failed"],
        check: (ctx) => {
            const problems: string[] = [];
            if (!/promotion refused: the window of stage-1-10pct is not judged: [^\n]*more than the 1 s allowed/.test(ctx.output())) problems.push("the refusal does not name the skew and the 1 s bound");
            const judged = filesWrittenAfter(path.join(ctx.env.workDir, "artifacts/gates"), ctx.startedAt).filter((f) => /window/.test(f));
            if (judged.length > 0) problems.push(`a window record was written from the skewed clock: ${judged.map((f) => path.basename(f)).join(", ")}`);
            if (ctx.env.service.state.rolloutPercentage !== 10) problems.push(`traffic reads ${ctx.env.service.state.rolloutPercentage} %, not stage 1's 10 %`);
            return problems;
        },
    },
    // Resource exhaustion, between ups (the guard).
    { kind: "guard", name: "proof-queue-saturated", group: "exhaustion", short: true, scenario: "proof-queue", fault: "proof queue at 2500 (max 2000) with traffic at 10 %" },
    { kind: "guard", name: "admin-api-slow", group: "exhaustion", short: true, scenario: "slow-admin-api", fault: "every admin API answer 5 s late while the rollback rate is 0.2" },
    { kind: "guard", name: "memory-high", group: "exhaustion", short: false, scenario: "memory", fault: "the service's memory at 95 % of its limit (the reference's knob) with traffic at 10 %" },
    {
        kind: "guard", name: "prometheus-service-partition", group: "partition", short: false, scenario: "unscrapable-service",
        fault: "Prometheus's scrapes of the service hang (its /metrics answers after 30 s: the stand-in for a cut link) while traffic is at 10 % and the rollback rate 0.2",
    },
    {
        kind: "guard", name: "watchdog-admin-partition", group: "partition", short: false, scenario: WATCHDOG_PARTITION,
        fault: "the watchdog's link to the admin API cut (a black-hole relay its SERVICE_URL points through) while the rollback rate is 0.2 at 10 %, " +
            "past the watchdog's deadline (watchdog.revertDeadline 30s here), then healed",
        // A deadline the config allows (at least the attempt schedule's 24.75 s), so the cut outlasts it in under a minute.
        config: (c) => { c["speculation:watchdog"] = { ...c["speculation:watchdog"], revertDeadline: "30s" }; },
    },
    // Kills: at every dynamic provider's step (the engine output shows the resource creating), and the policy pack.
    ...KILLS.map(([type, short, extra]) => ({
        kind: "kill" as const, name: `kill-at-${type.replace(/[A-Z]/g, (c, i) => `${i ? "-" : ""}${c.toLowerCase()}`)}`, group: "kill" as const, short,
        fault: `kill -9 of the up's process group while its ${type} step runs${extra.why ? ` (${extra.why})` : ""}`,
        when: extra.when ?? stepRunning(type),
        ...extra,
    })),
    {
        // Kubernetes only: a stack of the EmergencyStop alone on the test control plane (./emergencyStop.ts).
        kind: "kill", name: "kill-at-emergency-stop", group: "kill", short: false,
        fault: "kill -9 of the up's process group while its EmergencyStop step waits for the release's pods to go (Kubernetes only: " +
            "that step alone, without the policy pack, on the test control plane; the pods held in Terminating)",
        program: path.join(__dirname, "emergencyStop.ts"),
        environment: emergencyStopCluster,
        // In flight: the Deployment already scaled to 0 by the step, which now polls for its pods.
        when: (ctx) => stepRunning("EmergencyStop")(ctx) && replicasOf(ctx, ESTOP_NAMESPACE, ESTOP_DEPLOYMENT) === 0,
    },
    {
        kind: "kill", name: "kill-during-policy-pack", group: "kill", short: true,
        fault: "kill -9 of the up's process group while the policy pack's host analyzes it",
        when: (ctx) => ctx.processes().some((p) => p.kind === "policy-pack") && stepRunning("Preflight")(ctx),
    },
];

