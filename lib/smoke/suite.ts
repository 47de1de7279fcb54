/**
 * Seed 000's smoke tests, as functions: the six of `smoke-test.sh` (health, more than 10 `speculation_*` metrics,
 * admin status, the config API read as `.speculation.enabled`, proof workers, chain connectivity) and the manual
 * synthetic speculation (`POST /admin/test/speculation`, then `GET /admin/test/speculation/latest`).
 *
 * `runSmokeTests` runs them against any track: the stable service before stage 1 shifts, or a canary / green
 * track before it gets traffic.  Where the seed only warns (test 5, proof workers), this suite fails when a proof
 * worker URL is given: a track whose workers are down must not take traffic.
 */
import { GO_NO_GO } from "../../config/thresholds";
import { readAdminConfig } from "../adminApi";
import { fetchWithin } from "../http";
import { Check, runChecks, StepReport } from "../runbook/steps";
import { syntheticSpeculation } from "../watchdog/synthetic";

export interface SmokeTarget {
    /** The track's service URL (stable, canary or green). */
    serviceUrl: string;
    /** The track's proof workers; without it test 5 is skipped (the seed only warns). */
    proofWorkerUrl?: string;
    adminToken: string;
    timeoutMs: number;
    /** Run the synthetic speculation (default true). */
    synthetic?: boolean;
    /** Name in the progress lines and the report (`smoke`, `smoke-canary`). */
    step?: string;
    /** The release the track must run: test 1 then also wants `.version` to be it (a canary or green track). */
    version?: string;
}

async function getJson(url: string, timeoutMs: number, token?: string): Promise<{ status: number; body: any }> {
    const res = await fetchWithin(url, token ? { headers: { authorization: `Bearer ${token}` } } : {}, timeoutMs);
    if (!res.ok) throw new Error(`${res.failure === "timeout" ? res.why : `unreachable (${res.why})`}`);
    let body: unknown;
    try { body = JSON.parse(res.text); } catch { throw new Error(`HTTP ${res.status}, body is not JSON`); }
    return { status: res.status, body };
}

const brief = (v: unknown) => { const s = JSON.stringify(v); return s.length > 80 ? `${s.slice(0, 77)}...` : s; };

export function smokeChecks(t: SmokeTarget): Check[] {
    const s = t.serviceUrl;
    const checks: Check[] = [
        {
            name: "1-health", target: `GET ${s}/health`, expected: `.status == "healthy"${t.version ? ` and .version == "${t.version}"` : ""}`,
            run: async () => {
                const r = await getJson(`${s}/health`, t.timeoutMs);
                const ok = r.status === 200 && r.body?.status === "healthy" && (!t.version || r.body?.version === t.version);
                return { ok, observed: `HTTP ${r.status} ${brief(r.body)}` };
            },
        },
        {
            name: "2-metrics", target: `GET ${s}/metrics`, expected: `> ${GO_NO_GO.smokeMinSpeculationMetrics} lines ^speculation_`,
            run: async () => {
                const res = await fetchWithin(`${s}/metrics`, {}, t.timeoutMs);
                if (!res.ok) throw new Error(res.why);
                const count = res.text.split("\n").filter((l) => l.startsWith("speculation_")).length;
                return { ok: res.status === 200 && count > GO_NO_GO.smokeMinSpeculationMetrics, observed: `HTTP ${res.status}, ${count} speculation_ lines` };
            },
        },
        {
            name: "3-admin-status", target: `GET ${s}/admin/status`, expected: ".speculation present",
            run: async () => { const r = await getJson(`${s}/admin/status`, t.timeoutMs, t.adminToken); return { ok: r.status === 200 && !!r.body?.speculation, observed: `HTTP ${r.status} ${brief(r.body?.speculation ?? r.body)}` }; },
        },
        {
            name: "4-config-api", target: `GET ${s}/admin/config (bearer)`, expected: ".speculation.enabled != null",
            run: async () => { const c = await readAdminConfig(s, t.adminToken, t.timeoutMs); return { ok: true, observed: `enabled=${c.enabled}, rollout=${c.rolloutPercentage} %` }; },
        },
        {
            name: "5-proof-workers", target: t.proofWorkerUrl ? `GET ${t.proofWorkerUrl}/health` : "proof workers", expected: ".status == \"healthy\"",
            run: async () => {
                if (!t.proofWorkerUrl) return { ok: "skip" as const, observed: "no proof worker URL configured (the seed only warns)" };
                const r = await getJson(`${t.proofWorkerUrl}/health`, t.timeoutMs);
                return { ok: r.status === 200 && r.body?.status === "healthy", observed: `HTTP ${r.status} ${brief(r.body)}` };
            },
        },
        {
            name: "6-chain", target: `GET ${s}/admin/chain-status (bearer)`, expected: ".connected == true",
            run: async () => { const r = await getJson(`${s}/admin/chain-status`, t.timeoutMs, t.adminToken); return { ok: r.status === 200 && r.body?.connected === true, observed: `HTTP ${r.status} ${brief(r.body)}` }; },
        },
    ];
    if (t.synthetic !== false) {
        checks.push({
            name: "7-synthetic", target: `POST ${s}/admin/test/speculation, GET …/latest`, expected: "latest is this run, result \"ok\"",
            // The same judgement as the watchdog's sentinel probes (one function, plain Node, bundled with the watchdog).
            run: () => syntheticSpeculation({ serviceUrl: s, adminToken: t.adminToken, timeoutMs: t.timeoutMs }),
        });
    }
    return checks;
}

/** Runs the suite against one track and returns its report (never throws; a failed check is a row). */
export function runSmokeTests(t: SmokeTarget, log?: (line: string) => void): Promise<StepReport> {
    return runChecks(t.step ?? "smoke", smokeChecks(t), log);
}

/** How long a track that was just created may take to pass (its pods becoming ready, its Service's endpoints). */
export interface SmokeRetry {
    deadlineSeconds: number;
    pollSeconds: number;
}

/**
 * Runs the suite until it passes or the deadline comes, one progress line per attempt: a new track's pods may need a
 * moment after their Deployment reports ready.  The last report says what failed; `attempts` how often it ran.
 */
export async function runSmokeUntilGreen(t: SmokeTarget, retry: SmokeRetry, log: (line: string) => void = (l) => console.log(l),
    sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): Promise<{ report: StepReport; attempts: number }> {
    const deadline = Date.now() + retry.deadlineSeconds * 1000;
    for (let attempts = 1; ; attempts++) {
        const report = await runSmokeTests(t, () => undefined);
        const failed = report.checks.filter((c) => c.verdict === "fail").map((c) => `${c.name}: ${c.observed}`);
        log(`[${t.step ?? "smoke"}] ${t.serviceUrl} attempt ${attempts}: ${failed.length === 0 ? "all green" : `not green (${failed.join("; ")})`}`);
        if (report.verdict === "pass" || Date.now() + retry.pollSeconds * 1000 > deadline) return { report, attempts };
        await sleep(retry.pollSeconds * 1000);
    }
}
