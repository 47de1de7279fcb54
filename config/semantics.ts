/**
 * What a value means, not only its shape (issue 25): the key kinds that were checked as text and let through values
 * that are unsafe or can never work.  One helper per kind, used by every key of that kind in config/schema.ts and
 * config/runbook.ts, and the cross-key rules (durations, versions) that crossFieldProblems adds:
 *   - URLs: http(s) only, no user:password@ in a plain key (credentials go in secret keys);
 *   - command-line strings: nothing that reaches a shell or an argv on a node may start with `-`; names and paths
 *     hold only a strict set of characters;
 *   - numbers: upper bounds where only lower ones existed (sizes, throughput floors, stake, rates 0..1);
 *   - durations: a read's timeout below its poll interval, and every deadline long enough for one attempt;
 *   - versions: an emergency rollback goes to a version other than the release.
 * CIDRs have their own module (config/cidr.ts), shared with the policy pack.
 */
import { isIP } from "net";
import { z } from "zod";
import { isDuration, parseDuration } from "./duration";

/** The schemes every URL key can use today: the gates, records, preflight and watchdog speak HTTP only. */
export const URL_SCHEMES = ["http", "https"] as const;

/**
 * A URL in a plain (non-secret) key: http or https, and no userinfo.  A password written here would be stored in the
 * stack file in clear and printed by every step that names the URL.
 */
export const plainUrl = () => z.url({ protocol: /^https?$/, error: "must be an http(s) URL" })
    .superRefine((url, ctx) => {
        let parsed: URL;
        try { parsed = new URL(url); } catch { return; }
        if (parsed.username || parsed.password) {
            // Never echo the value: it holds a credential.
            ctx.addIssue({
                code: "custom",
                message: "must not carry credentials (user:password@): this key is stored and printed in clear; put the credentials in a secret key " +
                    "(pulumi config set --secret) or in front of the endpoint (an authenticating proxy), and write the URL without them",
            });
        }
    });

/** A string that must not be read as an option where it lands in an argv, and stays on one line. */
function optionProblem(text: string, what: string): string | undefined {
    if (/^\s*-/.test(text)) return `must not start with - (${what}: it would be read as an option)`;
    if (/[\0\r\n]/.test(text)) return `must be one line, without NUL (${what})`;
    return undefined;
}

/**
 * A free-form shell command run on a node or by the operator's machine (nodes.healthCommand, bench.command, …): shell
 * syntax is its purpose, but it must not start with `-` (an option of whatever runs it) or span lines.
 */
export const shellCommand = (what: string) => z.string({ error: `must be a shell command (${what})` })
    .min(1, { error: "must not be empty" })
    .refine((s) => s.trim().length > 0, { error: `must not be blank (${what})` })
    .superRefine((s, ctx) => {
        const problem = optionProblem(s, what);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

/** A systemd unit name as it reaches `systemctl` on the node: letters, digits, @ . _ -, never starting with - or . */
export const SYSTEMD_UNIT = /^[A-Za-z0-9_][A-Za-z0-9@._-]{0,254}$/;

/** A host the node rollout connects to: a DNS name or an IP address, never starting with -. */
export function hostProblem(host: string): string | undefined {
    if (isIP(host)) return undefined;
    const label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    return new RegExp(`^${label}(?:\\.${label})*$`).test(host) && host.length <= 253
        ? undefined
        : "must be a host name (letters, digits, - and ., not starting with -) or an IP address";
}

/** Who a record names (nodes.operator, records.operator): a user or CI actor name, written into logs and the nodes' state. */
export const OPERATOR_NAME = /^[A-Za-z0-9_][A-Za-z0-9._@+[\] -]{0,99}$/;

/** The characters a file name may hold where it reaches a node (nodes.configFile's is written into its shell). */
export const FILE_NAME = /^[A-Za-z0-9._+@][A-Za-z0-9._+@-]{0,254}$/;
export const FILE_NAME_CHARS = "letters, digits and . _ + @ -";

/** Why a file name (the last part of a path) is refused, or undefined. */
export function fileNameProblem(path: string, what: string): string | undefined {
    const name = path.replace(/\/+$/, "").split("/").pop() ?? "";
    if (!FILE_NAME.test(name) || name === "." || name === "..") {
        return `its file name must hold only ${FILE_NAME_CHARS}, and not start with - (${what}: the name is written into the node's shell commands)`;
    }
    return undefined;
}

/**
 * A local file the rollout reads (nodes.binary, nodes.configFile, signing.nodeBinarySignature): not a path that reads
 * as an option, on one line, and a file name of FILE_NAME's strict set (the config file lands on the node as
 * `<installPath>/config/<its file name>`, double-quoted in the node's shell: `x$(id).toml` would run there; the binary
 * and its signature are held to the same rule, so no file the rollout names holds shell syntax).
 */
export const localPath = (what: string) => z.string({ error: `must be a local path (${what})` }).min(1, { error: "must not be empty" })
    .superRefine((s, ctx) => {
        const problem = optionProblem(s, what) ?? fileNameProblem(s, what);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

const QUANTITY_FACTORS: Record<string, number> = {
    "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, m: 1e-3,
};

/** A Kubernetes quantity ("500m", "4", "8Gi") as a number (cores or bytes); NaN when it is none. */
export function quantityValue(q: string): number {
    const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$/.exec(q);
    return m ? Number(m[1]) * QUANTITY_FACTORS[m[2] ?? ""] : NaN;
}

/** Upper bounds on sizes: past these a value is a typo (a unit off), not a plan. */
export const SIZE_LIMITS = {
    /** Cores of one container. */
    cpuCores: 256,
    /** Bytes of one container's memory (1 TiB). */
    memoryBytes: 2 ** 40,
    /** Bytes of one persistent volume claim (64 TiB). */
    volumeBytes: 64 * 2 ** 40,
} as const;

/** A zod refinement: the quantity is at most `max` (the unit of quantityValue); `shown` is how the message writes it. */
export const quantityAtMost = (max: number, shown: string): [(q: string) => boolean, { error: string }] =>
    [(q) => !(quantityValue(q) > max), { error: `must be at most ${shown} (a larger value is a unit off, not a plan)` }];

/** Upper bounds on plain numbers that only had a lower bound. */
export const NUMBER_LIMITS = {
    /** bench.minThroughputPerSecond: 10 M/s, 200 × the go/no-go floor: a floor above it is a typo. */
    benchMaxThroughputFloor: 10_000_000,
    /** preflight.minStakeSol: more SOL than exist. */
    maxStakeSol: 1_000_000_000,
    /** nodes.minFreeDiskGb: 100 TB on one node. */
    maxFreeDiskGb: 100_000,
    /** canary.judge.minRequests: ten million requests per track per window. */
    maxJudgeMinRequests: 10_000_000,
    /** bench.extraGates values in milliseconds or per second. */
    maxBenchGateValue: 1e9,
} as const;

export interface SemanticProblem {
    path: (string | number)[];
    message: string;
}

/** The part of the stack config the cross-key rules read (each part present only when it parsed). */
export interface SemanticInput {
    environment?: string;
    release?: { version: string };
    canary?: { gate: { timeout: string; pollInterval: string; deadlineSlack: string; revert: { deadline: string } } };
    watchdog?: { sentinel: { interval: string; timeout: string } };
    nodes?: { batchGate: { enabled: boolean; bake: string } };
    rollback?: { mode: string; lastKnownGood?: string; drainPollInterval?: string; drainTimeout?: string };
}

const seconds = (d: string | undefined) => (d !== undefined && isDuration(d) ? parseDuration(d) : undefined);

/**
 * Durations that relate (each message names both keys):
 *   - a read's timeout is below its poll interval, else the configured interval is not what is polled and a hung read
 *     holds the loop for the whole timeout (canary.gate.timeout / pollInterval; 2 × the sentinel's timeout, a probe
 *     being two requests, / its interval).  The local rehearsal (environment local, reads on loopback at 1 s polls)
 *     is exempt from this one;
 *     The rollback drain reads the pending operations with canary.gate.timeout too, so rollback.drainPollInterval is
 *     above it (checked whatever rollback.mode is: a stack learns it before the day it must roll back, not then).
 *     The new track's smoke retries need no rule: lib/plan/release.ts derives their poll from the timeout;
 *   - every deadline covers at least one attempt: canary.gate.deadlineSlack (the new track's smoke retries and the
 *     gate's wait past its bake), canary.gate.revert.deadline and rollback.drainTimeout hold one read of
 *     canary.gate.timeout; the node batch gate's bake holds one poll.  (The watchdog's revertDeadline is held to its
 *     whole attempt schedule by lib/guard/plan.ts, and its attempts are cut to what is left of it.)
 */
export function durationProblems(cfg: SemanticInput): SemanticProblem[] {
    const problems: SemanticProblem[] = [];
    const g = cfg.canary?.gate;
    const local = cfg.environment === "local";
    if (g) {
        const timeout = seconds(g.timeout);
        const poll = seconds(g.pollInterval);
        if (!local && timeout !== undefined && poll !== undefined && timeout >= poll) {
            problems.push({ path: ["canary", "gate", "timeout"], message: `must be below canary.gate.pollInterval (${g.pollInterval}): one reading may take ${g.timeout}, longer than the interval between two, and a hung service would hold each poll that long` });
        }
        for (const [key, value] of [["deadlineSlack", g.deadlineSlack], ["revert.deadline", g.revert.deadline]] as const) {
            const deadline = seconds(value);
            if (timeout !== undefined && deadline !== undefined && deadline < timeout) {
                problems.push({ path: ["canary", "gate", ...key.split(".")], message: `must be at least canary.gate.timeout (${g.timeout}): a deadline shorter than one read gives up before its first answer can arrive` });
            }
        }
    }
    const r = cfg.rollback;
    const timeout = seconds(g?.timeout);
    if (r && timeout !== undefined) {
        const drainPoll = seconds(r.drainPollInterval);
        if (!local && drainPoll !== undefined && timeout >= drainPoll) {
            problems.push({ path: ["rollback", "drainPollInterval"], message: `must be above canary.gate.timeout (${g!.timeout}): the drain reads the pending operations with that timeout, and a hung service would hold each poll longer than the interval between two` });
        }
        const drainDeadline = seconds(r.drainTimeout);
        if (drainDeadline !== undefined && drainDeadline < timeout) {
            problems.push({ path: ["rollback", "drainTimeout"], message: `must be at least canary.gate.timeout (${g!.timeout}): the drain reads with that timeout, and a shorter deadline gives up before its first answer can arrive` });
        }
    }
    const w = cfg.watchdog;
    if (w) {
        const probeTimeout = seconds(w.sentinel.timeout);
        const interval = seconds(w.sentinel.interval);
        if (!local && probeTimeout !== undefined && interval !== undefined && 2 * probeTimeout >= interval) {
            problems.push({ path: ["watchdog", "sentinel", "timeout"], message: `must be below half of watchdog.sentinel.interval (${w.sentinel.interval}): a probe is two requests of up to ${w.sentinel.timeout} each, and a hung service would stretch the interval (the window would hold fewer than minProbes probes and the alert could never fire)` });
        }
    }
    const poll = seconds(g?.pollInterval);
    const bake = seconds(cfg.nodes?.batchGate.bake);
    if (cfg.nodes?.batchGate.enabled && poll !== undefined && bake !== undefined && bake < poll) {
        problems.push({ path: ["nodes", "batchGate", "bake"], message: `must be at least canary.gate.pollInterval (${g!.pollInterval}): the batch gate polls at that interval and would judge no sample` });
    }
    return problems;
}

/** The emergency rollback's target must not be the release it rolls back from. */
export function versionProblems(cfg: SemanticInput): SemanticProblem[] {
    const r = cfg.rollback;
    if (r && r.lastKnownGood !== undefined && cfg.release && r.lastKnownGood === cfg.release.version) {
        return [{ path: ["rollback", "lastKnownGood"], message: `must differ from release.version (${cfg.release.version}): the rollback would redeploy the release it rolls back from` }];
    }
    return [];
}

/** The cross-key rules of this module. */
export function semanticProblems(cfg: SemanticInput): SemanticProblem[] {
    return [...durationProblems(cfg), ...versionProblems(cfg)];
}
