/**
 * Stack config for the runbook steps around a release (seed 000): preflight, smoke tests, post-deployment
 * verification, deployment records and the full / emergency rollback.  One top-level key each, in the
 * `speculation` namespace (schema.ts adds them to the stack schema).
 */
import { z } from "zod";
import { positiveDuration } from "./durationSchema";
import { GO_NO_GO } from "./thresholds";
import { NUMBER_LIMITS, OPERATOR_NAME, plainUrl } from "./semantics";

const VERSION = /^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
/** A Solana address: base58, 32 to 44 characters. */
const SOLANA_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;

export const ROLLBACK_MODES = ["none", "full", "emergency"] as const;

/** Seed 000's prerequisites.  Preflight runs when `chainRpcUrl` is set; production requires it. */
export const preflightSchema = z.object({
    /** Solana JSON-RPC endpoint (getHealth, getBalance). */
    chainRpcUrl: plainUrl().optional(),
    stakePoolAddress: z.string({ error: "must be a Solana address" })
        .regex(SOLANA_ADDRESS, { error: "must be a Solana address (base58, 32-44 characters)" }).optional(),
    minStakeSol: z.number({ error: "must be a number" }).min(0, { error: "must be 0 or more" })
        .max(NUMBER_LIMITS.maxStakeSol, { error: `must be at most ${NUMBER_LIMITS.maxStakeSol} (more SOL than exist)` }).default(GO_NO_GO.minStakePoolSol),
    timeout: positiveDuration("longest wait for one preflight reading", { timer: true }).default("10s"),
}).strict().prefault({});

/** Seed 000's six smoke tests and the synthetic speculation, after the service is ready and before stage 1. */
export const smokeSchema = z.object({
    enabled: z.boolean({ error: "must be true or false" }).default(true),
    timeout: positiveDuration("longest wait for one smoke-test request", { timer: true }).default("10s"),
}).strict().prefault({});

/** Seed 000's verify script at 100 %: recorded under artifactsDir. */
export const verifySchema = z.object({
    enabled: z.boolean({ error: "must be true or false" }).default(true),
}).strict().prefault({});

/** One deployment record per release: appended to a log and pushed to a Prometheus Pushgateway. */
export const recordsSchema = z.object({
    pushgatewayUrl: plainUrl().optional(),
    /** The log (deployments.log) and the step reports, relative to the project folder. */
    artifactsDir: z.string().min(1).default("deployment-artifacts/releases"),
    /** Who the record names (default: lib/records/operator.ts — GITHUB_ACTOR in GitHub Actions, else `whoami`). */
    operator: z.string().regex(OPERATOR_NAME, { error: "must be a user or CI actor name: letters, digits and . _ @ + [ ] - or space, not starting with - (at most 100)" }).optional(),
}).strict().prefault({});

/**
 * The Pushgateway's credentials (`speculation:pushgatewayCredentials`, a secret key of its own, as
 * `speculation:registryCredentials` is): `{ username, password }`, for a gateway behind HTTP basic auth.  The record
 * and baseline pushes send them (lib/records/pushgateway.ts); the generated scrape config reads them from the Secret
 * `agenc-pushgateway-auth` (components/MonitoringStack.ts).  `records.pushgatewayUrl` itself never carries them.
 */
export const pushgatewayCredentialsSchema = z.object({
    username: z.string({ error: "must be the Pushgateway user name" }).regex(/^[^:\s]{1,256}$/, {
        error: "must be the Pushgateway user name: no colon (HTTP basic auth splits on the first one) and no whitespace, at most 256",
    }),
    password: z.string({ error: "must be the Pushgateway password" }).min(1, { error: "must not be empty" })
        .regex(/^[^\r\n]*$/, { error: "must be one line (it is mounted as a file Prometheus reads)" }),
}).strict();
export type PushgatewayCredentials = z.output<typeof pushgatewayCredentialsSchema>;

/**
 * Seed 000's rollbacks as a config edit: `full` disables speculation, drains pending operations below the
 * threshold, then rolls both workloads back to release.previousVersion; `emergency` takes both workloads down and
 * brings up `lastKnownGood` (default previousVersion) with speculation disabled.  `none` is normal operation.
 */
export const rollbackSchema = z.object({
    mode: z.enum(ROLLBACK_MODES, { error: `must be one of: ${ROLLBACK_MODES.join(", ")}` }).default("none"),
    /** The drain gives up (and fails `pulumi up`) after this long. */
    drainTimeout: positiveDuration("longest the drain may take").default("10m"),
    /** Time between two reads of the pending operations: above canary.gate.timeout, which each read may take (config/semantics.ts). */
    drainPollInterval: positiveDuration("time between two reads of the pending operations", { timer: true }).default("15s"),
    /**
     * Emergency: the longest the release's pods may take to terminate once their Deployments are scaled to 0; past
     * it `pulumi up` fails before any last-known-good pod is created.  Above the pods' termination grace period (30 s).
     */
    stopTimeout: positiveDuration("longest the release's pods may take to terminate").default("5m"),
    /** Emergency: the version to bring back (seed 000: the last known good, which may be older than previousVersion). */
    lastKnownGood: z.string().regex(VERSION, { error: "must be a release tag such as v1.2.1 (not latest)" }).optional(),
}).strict().prefault({});
