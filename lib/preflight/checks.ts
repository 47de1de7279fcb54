/**
 * Preflight (seed 000, "Prerequisites"): what must hold before a release changes anything.
 *   - chain connectivity: Solana `getHealth` answers "ok";
 *   - the stake pool is funded: `getBalance` of its address ≥ the minimum in SOL (100 in production);
 *   - the secret is present: on Kubernetes the program's own Secret carries ADMIN_TOKEN; against a service the
 *     program does not deploy, the admin token from config is set and accepted by the admin API;
 *   - Prometheus scrapes both workloads (when the gates read Prometheus): every active target of each job is up.
 */
import { readAdminConfig } from "../adminApi";
import { formatDuration } from "../time/duration";
import { activeTargets, retention } from "../prometheus/client";
import { Check, runChecks, StepReport } from "../runbook/steps";
import { getBalanceSol, getHealth } from "./solana";

export const SECRET_KEY = "ADMIN_TOKEN";

export type SecretSource =
    /** The Secret object this program manages: its name and the keys it holds (from its outputs). */
    | { kind: "kubernetes"; name: string; keys: string[] }
    /** A service this program does not deploy: the token from config, checked against its admin API. */
    | { kind: "admin-api"; serviceUrl: string; adminToken: string };

export interface PreflightTarget {
    chainRpcUrl: string;
    stakePoolAddress: string;
    minStakeSol: number;
    secret: SecretSource;
    /** Set when the gates read Prometheus: these jobs must each have targets, all up. */
    prometheus?: { url: string; jobs: string[] };
    /**
     * Window bakes: the Prometheus the next `up` judges each bake from must keep at least this much history (the
     * longest bake plus a week, config/schema.ts RETENTION_MARGIN_SECONDS).
     */
    retention?: { url: string; minSeconds: number };
    timeoutMs: number;
}

/** Prometheus's active scrape targets (lib/prometheus/client.ts); throws, naming the URL, on any failure. */
export const prometheusTargets = activeTargets;

export function preflightChecks(t: PreflightTarget): Check[] {
    const checks: Check[] = [
        {
            name: "chain-health", target: `getHealth at ${t.chainRpcUrl}`, expected: "\"ok\"",
            run: async () => { const h = await getHealth(t.chainRpcUrl, t.timeoutMs); return { ok: h === "ok", observed: JSON.stringify(h) }; },
        },
        {
            name: "stake-pool-balance", target: `getBalance ${t.stakePoolAddress}`, expected: `≥ ${t.minStakeSol} SOL`,
            run: async () => {
                const b = await getBalanceSol(t.chainRpcUrl, t.stakePoolAddress, t.timeoutMs);
                return { ok: b.sol >= t.minStakeSol, observed: `${b.sol} SOL (slot ${b.slot})` };
            },
        },
    ];
    const s = t.secret;
    if (s.kind === "kubernetes") {
        checks.push({
            name: "secret-present", target: `Secret ${s.name}`, expected: `holds ${SECRET_KEY}`,
            run: async () => ({ ok: s.keys.includes(SECRET_KEY), observed: s.keys.length ? `keys ${s.keys.join(", ")}` : "no keys" }),
        });
    } else {
        checks.push({
            name: "secret-present", target: `admin token, GET ${s.serviceUrl}/admin/config`, expected: "set and accepted",
            run: async () => {
                if (!s.adminToken) return { ok: false, observed: "no admin token" };
                await readAdminConfig(s.serviceUrl, s.adminToken, t.timeoutMs);
                return { ok: true, observed: "accepted" };
            },
        });
    }
    if (t.prometheus) {
        const p = t.prometheus;
        for (const job of p.jobs) {
            checks.push({
                name: `prometheus-targets-${job}`, target: `${p.url}/api/v1/targets job="${job}"`, expected: "≥ 1 target, all up",
                run: async () => {
                    const mine = (await prometheusTargets(p.url, t.timeoutMs)).filter((x) => x.job === job);
                    const down = mine.filter((x) => x.health !== "up");
                    if (mine.length === 0) return { ok: false, observed: "no targets" };
                    return {
                        ok: down.length === 0,
                        observed: down.length === 0 ? `${mine.length}/${mine.length} up`
                            : `${mine.length - down.length}/${mine.length} up; down: ${down.map((d) => `${d.instance} (${d.health}${d.lastError ? `: ${d.lastError}` : ""})`).join(", ")}`,
                    };
                },
            });
        }
    }
    if (t.retention) {
        const r = t.retention;
        checks.push({
            name: "prometheus-retention", target: `${r.url}/api/v1/status/flags storage.tsdb.retention.time`,
            expected: `≥ ${formatDuration(r.minSeconds)} (the longest bake plus a week: the next up judges each bake from this history)`,
            run: async () => {
                const kept = await retention(r.url, t.timeoutMs);
                return {
                    ok: kept.seconds >= r.minSeconds,
                    observed: `${kept.flag === "0s" ? "15d (the default)" : kept.flag}${kept.sizeLimit ? `, and at most ${kept.sizeLimit} (a size limit may cut it shorter)` : ""}`,
                };
            },
        });
    }
    return checks;
}

export function runPreflight(t: PreflightTarget, log?: (line: string) => void): Promise<StepReport> {
    return runChecks("preflight", preflightChecks(t), log);
}
