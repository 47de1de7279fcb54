/**
 * Every duration key of the stack config, found by walking the schema (a key added later is found too): each interval,
 * timeout and deadline is refused at 0s with the key named, before anything is registered; the few waits whose 0
 * means "no wait" accept it; the keys waited on with one Node timer are refused past what a timer can wait; and
 * watchdog.revertDeadline keeps the watchdog script's own minimum.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import { z } from "zod";
import { ConfigError, formatDuration, loadStackConfig, parseStackConfig, stackConfigSchema, WATCHDOG_MIN_REVERT_DEADLINE_SECONDS } from "../../config";
import { TIMER_MAX_SECONDS } from "../../config/durationSchema";
import { watchdogScriptFile } from "../../lib/watchdog/bundle";
import { encodeConfig, expectConfigRefusal, MockEngine, stackConfig, withEdit } from "../helpers/stack";

/**
 * Waits whose 0s is documented to mean "no wait" (the README's node rollout: grace and pause; Pulumi.local.yaml sets
 * all three to 0s, and the node benchmark runs with them at 0).
 */
const ZERO_MEANS_NO_WAIT = ["nodes.firstNodeGrace", "nodes.nodeGrace", "nodes.pauseBetweenNodes"];

/** Every duration key the schema has today: a new one must be added here, and so decided on (0s refused or not). */
const DURATION_KEYS = [
    "canary.steps[0].bake",
    "canary.ingress.awaitTimeout",
    "canary.gate.pollInterval", "canary.gate.deadlineSlack", "canary.gate.timeout", "canary.gate.revert.deadline",
    "canary.gate.entryAnalysis", "canary.gate.maxGap",
    "monitoring.scrapeInterval", "monitoring.scrapeTimeout", "monitoring.evaluationInterval", "monitoring.rehearsalFor", "monitoring.retention",
    "watchdog.revertDeadline", "watchdog.pollInterval", "watchdog.attemptTimeout", "watchdog.adminApiTimeout", "watchdog.maxGuardBound", "watchdog.sentinel.interval", "watchdog.sentinel.window", "watchdog.sentinel.timeout",
    "nodes.healthInterval", "nodes.firstNodeGrace", "nodes.nodeGrace", "nodes.pauseBetweenNodes", "nodes.batchGate.bake",
    "bench.timeout",
    "preflight.timeout", "smoke.timeout", "signing.timeout",
    "rollback.drainTimeout", "rollback.drainPollInterval", "rollback.stopTimeout",
];

/**
 * The keys the program waits on with one Node timer (setTimeout, AbortSignal.timeout), which ends a wait past
 * 2^31 − 1 ms at once: the gate's sleep and reading timeout, the watchdog's probe schedule and probe timeout, the bench
 * kill timer, preflight and smoke request timeouts, the drain's sleep and the pause between node batches.  The others
 * are compared with the clock (bakes, deadlines, maxGap), handed to Prometheus or the engine, or run on the node.
 */
const TIMER_KEYS = [
    "canary.gate.pollInterval", "canary.gate.timeout", "watchdog.sentinel.interval", "watchdog.sentinel.timeout",
    "watchdog.pollInterval", "watchdog.attemptTimeout", "watchdog.adminApiTimeout",
    "nodes.pauseBetweenNodes", "bench.timeout", "preflight.timeout", "smoke.timeout", "signing.timeout", "rollback.drainPollInterval",
];

type Def = { type: string; innerType?: z.ZodType; element?: z.ZodType; shape?: Record<string, z.ZodType> };
const def = (t: z.ZodType) => (t as unknown as { _zod: { def: Def } })._zod.def;

/** The paths of every string key that answers a non-duration with the duration message (lists: their first item). */
function durationKeys(schema: z.ZodType, at: string): string[] {
    const d = def(schema);
    if (["optional", "default", "prefault", "nullable", "readonly", "catch"].includes(d.type)) return durationKeys(d.innerType!, at);
    if (d.type === "object") return Object.entries(d.shape!).flatMap(([k, s]) => durationKeys(s, at ? `${at}.${k}` : k));
    if (d.type === "array") return durationKeys(d.element!, `${at}[0]`);
    if (d.type !== "string") return [];
    const r = schema.safeParse("fast");
    return !r.success && r.error.issues.some((i) => /^must be a duration such as/.test(i.message)) ? [at] : [];
}

/** Of the given duration keys, those refused just past what one Node timer can wait. */
function timerKeys(keys: string[]): string[] {
    const tooLong = formatDuration(TIMER_MAX_SECONDS + 1);
    return keys.filter((dotted) => {
        try {
            parseStackConfig(encodeConfig(withKey(dotted, tooLong)));
            return false;
        } catch (e) {
            return (e as ConfigError).problems.some((p) => p.startsWith(`speculation:${dotted}: must be at most ${formatDuration(TIMER_MAX_SECONDS)} (`));
        }
    });
}

/** The staging stack with one key (a path such as canary.gate.maxGap) set. */
function withKey(dotted: string, value: unknown): Record<string, unknown> {
    const [top, ...rest] = dotted.split(".");
    return withEdit(stackConfig("staging"), `speculation:${top}`, rest.join(".") || undefined, value);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("config: every duration key", function () {
    this.timeout(30_000);
    const engine = new MockEngine();

    it("the schema's duration keys are the ones listed here (a new one must be decided on)", () => {
        expect(durationKeys(stackConfigSchema, "")).to.have.members(DURATION_KEYS).and.to.have.length(DURATION_KEYS.length);
    });

    for (const dotted of DURATION_KEYS.filter((k) => !ZERO_MEANS_NO_WAIT.includes(k))) {
        it(`${dotted}: 0s is refused, naming the key, before anything registers`, () => {
            engine.install(withKey(dotted, "0s"));
            const error = expectConfigRefusal();
            const problems = error.problems;
            expect(problems).to.have.length(1);
            expect(problems[0]).to.match(dotted === "watchdog.revertDeadline"
                ? new RegExp(`^speculation:${escape(dotted)}: must be at least ${formatDuration(WATCHDOG_MIN_REVERT_DEADLINE_SECONDS)} \\(.+\\): `)
                : new RegExp(`^speculation:${escape(dotted)}: must be longer than 0s \\(.+\\)$`));
            expect(engine.resources, "nothing registered before the error").to.have.length(0);
        });
    }

    it("the keys waited on with one Node timer are the ones listed here", () => {
        expect(timerKeys(DURATION_KEYS)).to.have.members(TIMER_KEYS).and.to.have.length(TIMER_KEYS.length);
    });

    for (const dotted of TIMER_KEYS) {
        it(`${dotted}: just past 2^31 − 1 ms is refused, naming the key and the maximum, before anything registers`, () => {
            engine.install(withKey(dotted, formatDuration(TIMER_MAX_SECONDS + 1)));
            const error = expectConfigRefusal();
            const own = error.problems.filter((p) => p.startsWith(`speculation:${dotted}: `));
            expect(own).to.have.length(1);
            expect(own[0]).to.match(new RegExp(`^speculation:${escape(dotted)}: must be at most 24d20h31m23s \\(.+\\): a Node timer ends a longer wait at once \\(2\\^31 − 1 ms\\)$`));
            expect(engine.resources, "nothing registered before the error").to.have.length(0);
        });
    }

    it("a node's restart step, one timer of grace + healthRetries × (healthInterval + 30s) + 2m, is refused past 2^31 − 1 ms", () => {
        const nodes = (healthInterval: string) => withEdit(withKey("nodes.healthRetries", 600), "speculation:nodes", "healthInterval", healthInterval);
        // 60s + 600 × (3600 + 30) s + 120 s = 2,178,180 s: past the 2,147,483 s a timer can wait.
        engine.install(nodes("1h"));
        expect(() => loadStackConfig()).to.throw(ConfigError).with.property("problems").that.deep.equals([
            "speculation:nodes: a node's restart step may take 25d5h3m (the longer grace + healthRetries × (healthInterval + 30s) + 2m), " +
            "more than 24d20h31m23s, the longest a Node timer waits: lower nodes.healthRetries, nodes.healthInterval, nodes.firstNodeGrace or nodes.nodeGrace",
        ]);
        // 60s + 600 × (3540 + 30) s + 120 s = 2,142,180 s fits.
        expect(() => parseStackConfig(encodeConfig(nodes("59m")))).to.not.throw();
    });

    for (const dotted of ZERO_MEANS_NO_WAIT) {
        it(`${dotted}: 0s is accepted (no wait)`, () => {
            expect(parseStackConfig(encodeConfig(withKey(dotted, "0s"))).config.nodes).to.have.property(dotted.split(".")[1], "0s");
        });
    }
});

describe("config: watchdog.revertDeadline and the watchdog's own minimum", () => {
    /** Runs the watchdog script with only REVERT_DEADLINE_SECONDS set: it exits at once either way (no service URL). */
    const start = (seconds: number) => spawnSync(process.execPath, [watchdogScriptFile()],
        { env: { REVERT_DEADLINE_SECONDS: String(seconds) }, encoding: "utf8", timeout: 10_000 });

    it("the script refuses a deadline just below the schema's minimum and takes the minimum itself", () => {
        const below = start(WATCHDOG_MIN_REVERT_DEADLINE_SECONDS - 0.001);
        expect(below.status).to.equal(2);
        expect(below.stderr).to.contain("REVERT_DEADLINE_SECONDS");
        const at = start(WATCHDOG_MIN_REVERT_DEADLINE_SECONDS);
        expect(at.stderr).to.not.contain("REVERT_DEADLINE_SECONDS");
        expect(at.stderr).to.contain("SERVICE_URL and ADMIN_TOKEN");
    });

    it("the schema refuses 0s naming the key and the minimum, and accepts the minimum", () => {
        expect(() => parseStackConfig(encodeConfig(withKey("watchdog.revertDeadline", "0s")))).to.throw(ConfigError).with.property("problems").that.deep.equals([
            "speculation:watchdog.revertDeadline: must be at least 1s (how long one revert keeps trying): " +
            "the watchdog (lib/watchdog/main.ts) exits at start on a shorter REVERT_DEADLINE_SECONDS, and its pods would crash-loop",
        ]);
        const ok = parseStackConfig(encodeConfig(withKey("watchdog.revertDeadline", formatDuration(WATCHDOG_MIN_REVERT_DEADLINE_SECONDS))));
        expect(ok.config.watchdog.revertDeadline).to.equal("1s");
    });
});
