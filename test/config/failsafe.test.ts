/**
 * The classes of bad config an adversarial run got past the loader (issue 15): each is refused by the loader, with
 * the key named, before the program registers anything (run under the mocks: zero resources).
 */
import { expect } from "chai";
import { readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { loadStackConfig, PRODUCTION_RULES } from "../../config";
import { SLO_BUDGET_FLOOR_RANGE, SLO_OBJECTIVE_RANGE } from "../../config/thresholds";
import { POLICY_DEFAULTS } from "../../policy/policies";
import { defineStack } from "../../program";
import { expectConfigRefusal, MockEngine, NODE_SECRET_KEYS, ROOT, settle, stackConfig, TEST_HOST_KEY, withEdit, withNodes } from "../helpers/stack";

type Config = Record<string, unknown>;
const key = (k: string) => `speculation:${k}`;
const ED25519_BLOB = TEST_HOST_KEY.split(" ")[1];
const DIGEST = `sha256:${"a".repeat(64)}`;
/** A real ecdsa-sha2-nistp256 host key (ssh-keygen): 104 bytes, so its canonical base64 ends in one "=". */
const ECDSA_BLOB = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEYChos8dZXFWdp4wd9iNOOCxL+e7qEjUEPdZOn/y4VffYM2ftWfYFbGdr+l7541kJjBRbVu6nUkB7mMhSWZags=";
/** SSH wire encoding of one string (uint32 length, bytes). */
const sshString = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
const oneHost = (hostKey: string) => withNodes(stackConfig("staging"), 1, { hosts: [{ name: "alys-1", host: "10.0.0.1", user: "deploy", hostKey }] });


/** [class, case, config, the exact problems (a pattern where other work adds keys to the same object)] */
const CASES: [string, string, () => Config, (string | RegExp)[]][] = [
    ["abort looser than promote", "stack abort rollback rate 0.03 under the promote 0.05",
        () => withEdit(stackConfig("staging"), key("thresholds"), "abortRollbackRate", 0.03),
        ["speculation:thresholds.abortRollbackRate: must be at least the promote threshold maxRollbackRate (0.05): an abort below it aborts a stage that is within its promote limit"]],
    ["abort looser than promote", "a step's abort error rate 0.005 under the promote 0.01",
        () => withEdit(stackConfig("staging"), key("canary"), "steps[1].thresholds", { abortErrorRate: 0.005 }),
        ["speculation:canary.steps[1].thresholds.abortErrorRate: must be at least the promote threshold maxErrorRate (0.01): an abort below it aborts a stage that is within its promote limit"]],
    ["tag or digest in release.images.*.repository", "a tag",
        () => withEdit(stackConfig("staging"), key("release"), "images.speculation.repository", "ghcr.io/agenc/speculation:v1.2.4"),
        ["speculation:release.images.speculation.repository: must not carry a tag (\":v1.2.4\"): the tag comes from release.version; the repository alone here (ghcr.io/agenc/speculation)"]],
    ["tag or digest in release.images.*.repository", "a digest (in production, beside its own digest key)",
        () => withEdit(stackConfig("production"), key("release"), "images.proofWorker.repository", `ghcr.io/agenc/proof-worker@${DIGEST}`),
        [`speculation:release.images.proofWorker.repository: must not carry a digest ("@${DIGEST}"): the digest goes in the digest key beside it, the repository alone here (ghcr.io/agenc/proof-worker)`]],
    ["tag or digest in release.images.*.repository", "a registry with a port and a tag",
        () => withEdit(stackConfig("staging"), key("release"), "images.speculation.repository", "registry.local:5000/agenc/speculation:latest"),
        ["speculation:release.images.speculation.repository: must not carry a tag (\":latest\"): the tag comes from release.version; the repository alone here (registry.local:5000/agenc/speculation)"]],
    ["a nodes.binary that is not there", "a path that does not exist",
        () => withEdit(withNodes(stackConfig("staging"), 2), key("nodes"), "binary", "/nonexistent/build/alys"),
        ["speculation:nodes.binary: /nonexistent/build/alys does not exist (a local path, relative to the project folder, of the file to roll out)"]],
    ["a nodes.binary that is not there", "a folder, and a config file that does not exist (relative: resolved in the project folder)",
        () => withEdit(withEdit(withNodes(stackConfig("staging"), 2), key("nodes"), "binary", tmpdir()), key("nodes"), "configFile", "build/alys.toml"),
        [`speculation:nodes.binary: ${tmpdir()} is not a file (a local path, relative to the project folder)`,
            `speculation:nodes.configFile: ${path.resolve("build/alys.toml")} does not exist (a local path, relative to the project folder, of the file to roll out)`]],
    ["a zero interval", "canary.gate.pollInterval 0s",
        () => withEdit(stackConfig("staging"), key("canary"), "gate.pollInterval", "0s"),
        ["speculation:canary.gate.pollInterval: must be longer than 0s (time between two samples)"]],
    ["a zero interval", "canary.gate.timeout 0s and monitoring.scrapeInterval 0m",
        () => withEdit(withEdit(stackConfig("staging"), key("canary"), "gate.timeout", "0s"), key("monitoring"), "scrapeInterval", "0m"),
        ["speculation:canary.gate.timeout: must be longer than 0s (longest wait for one reading)",
            "speculation:monitoring.scrapeInterval: must be longer than 0s (Prometheus scrape interval)"]],
    ["a duration the consumer cannot read", "canary.ingress.awaitTimeout in days (Pulumi's customTimeouts are Go durations)",
        () => withEdit(withEdit(stackConfig("staging"), key("canary"), "ingress.await", "load-balancer"), key("canary"), "ingress.awaitTimeout", "1d"),
        ["speculation:canary.ingress.awaitTimeout: must be written in h, m and s, such as 24h (it is the Ingresses' customTimeouts, which Pulumi reads as a Go duration: no d)"]],
    ["a deadline shorter than its own poll", "rollback.drainTimeout under rollback.drainPollInterval",
        () => withEdit(stackConfig("staging"), key("rollback"), "drainTimeout", "12s"),
        ["speculation:rollback.drainTimeout: must be at least rollback.drainPollInterval (15s): a shorter drain reads the pending operations once and gives up"]],
    ["production minimums", `proof workers below ${PRODUCTION_RULES.minProofWorkerReplicas}`,
        () => withEdit(stackConfig("production"), key("proofWorkers"), "replicas", 3),
        ["speculation:proofWorkers.replicas: must be at least 4 in production (policy proof-workers-min-replicas)"]],
    ["production minimums", "a first bake below 4 h",
        () => withEdit(stackConfig("production"), key("canary"), "steps[0].bake", "1h"),
        ["speculation:canary.steps[0].bake: must be at least 4h in production (policy gate-thresholds)"]],
    ["production minimums", "no final bench",
        () => withEdit(stackConfig("production"), key("bench"), "enabled", false),
        ["speculation:bench.enabled: must be true in production: a final bench runs before stage 1 (policy every-stage-gated)"]],
    ["production minimums", "a node failure budget",
        () => withNodes(stackConfig("production"), 2, { maxFailPercentage: 10 }),
        ["speculation:nodes.maxFailPercentage: must be 0 in production (policy node-rollout-limits)"]],
    ["production minimums", "a soft topology spread",
        () => withEdit(stackConfig("production"), key("hardening"), "topologySpread.whenUnsatisfiable", "ScheduleAnyway"),
        ["speculation:hardening.topologySpread.whenUnsatisfiable: must be DoNotSchedule in production (policy topology-spread)"]],
    ["host key type checked against the blob", "an ed25519 key labelled ssh-rsa",
        () => withNodes(stackConfig("staging"), 1, { hosts: [{ name: "alys-1", host: "10.0.0.1", user: "deploy", hostKey: `ssh-rsa ${ED25519_BLOB}` }] }),
        ["speculation:nodes.hosts[0].hostKey: the key inside is ssh-ed25519, not ssh-rsa: copy the node's ssh-rsa key (ssh-keyscan -t rsa <host>, checked out of band)"]],
    ["host key type checked against the blob", "a truncated key",
        () => withNodes(stackConfig("staging"), 1, { hosts: [{ name: "alys-1", host: "10.0.0.1", user: "deploy", hostKey: `ssh-ed25519 ${ED25519_BLOB.slice(0, 40)}` }] }),
        ["speculation:nodes.hosts[0].hostKey: is not a decodable ssh-ed25519 public key (the base64 part is truncated or not an SSH key)"]],
    ["host key type checked against the blob", "base64 that is no key at all",
        () => withNodes(stackConfig("staging"), 1, { hosts: [{ name: "alys-1", host: "10.0.0.1", user: "deploy", hostKey: "ecdsa-sha2-nistp256 QUFBQUFBQUFBQUFB" }] }),
        ["speculation:nodes.hosts[0].hostKey: is not a decodable ecdsa-sha2-nistp256 public key (the base64 part is truncated or not an SSH key)"]],
    ["host key is exactly the key", "a valid ed25519 key with bytes appended (ssh2's parser ignores them; the rollout compares the whole blob)",
        () => oneHost(`ssh-ed25519 ${Buffer.concat([Buffer.from(ED25519_BLOB, "base64"), Buffer.from("junk")]).toString("base64")}`),
        ["speculation:nodes.hosts[0].hostKey: holds 4 byte(s) after the ssh-ed25519 key itself (the base64 part is longer than the key: two keys run together, or text appended?): copy the node's ssh-ed25519 key alone (ssh-keyscan -t ed25519 <host>, checked out of band)"]],
    ["host key is exactly the key", "two ed25519 keys run together",
        () => oneHost(`ssh-ed25519 ${Buffer.concat([Buffer.from(ED25519_BLOB, "base64"), Buffer.from(ED25519_BLOB, "base64")]).toString("base64")}`),
        ["speculation:nodes.hosts[0].hostKey: holds 51 byte(s) after the ssh-ed25519 key itself (the base64 part is longer than the key: two keys run together, or text appended?): copy the node's ssh-ed25519 key alone (ssh-keyscan -t ed25519 <host>, checked out of band)"]],
    ["host key is exactly the key", "an ed25519 certificate's type name with the key's bytes, pinned as a plain ssh-ed25519 key",
        () => oneHost(`ssh-ed25519 ${Buffer.concat([sshString(Buffer.from("ssh-ed25519-cert-v01@openssh.com")), sshString(Buffer.from(ED25519_BLOB, "base64").subarray(-32))]).toString("base64")}`),
        ["speculation:nodes.hosts[0].hostKey: is not exactly a ssh-ed25519 public key (the base64 part holds fields that are not the key's own): copy the node's ssh-ed25519 key (ssh-keyscan -t ed25519 <host>, checked out of band)"]],
    ["host key is exactly the key", "non-canonical base64: padding left off",
        () => oneHost(`ecdsa-sha2-nistp256 ${ECDSA_BLOB.replace(/=$/, "")}`),
        ["speculation:nodes.hosts[0].hostKey: is not the canonical base64 of the ecdsa-sha2-nistp256 key it holds (padding or the last characters differ: ssh-keyscan writes it ending \"…hSWZags=\", here \"…MhSWZags\"): copy the key exactly as ssh-keyscan prints it"]],
    ["host key is exactly the key", "non-canonical base64: stray low bits in the last character (decodes to the same key)",
        () => oneHost(`ecdsa-sha2-nistp256 ${ECDSA_BLOB.replace(/s=$/, "t=")}`),
        ["speculation:nodes.hosts[0].hostKey: is not the canonical base64 of the ecdsa-sha2-nistp256 key it holds (padding or the last characters differ: ssh-keyscan writes it ending \"…hSWZags=\", here \"…hSWZagt=\"): copy the key exactly as ssh-keyscan prints it"]],
    ["host key is exactly the key", "non-canonical base64: padding added to a key that has none",
        () => oneHost(`ssh-ed25519 ${ED25519_BLOB}=`),
        ["speculation:nodes.hosts[0].hostKey: is not the canonical base64 of the ssh-ed25519 key it holds (padding or the last characters differ: ssh-keyscan writes it ending \"…h2l9GKJl\", here \"…2l9GKJl=\"): copy the key exactly as ssh-keyscan prints it"]],
    ["backup and install folders nested", "backupPath equal to installPath but for a trailing slash",
        () => withNodes(stackConfig("staging"), 1, { installPath: "/opt/alys", backupPath: "/opt/alys/" }),
        ["speculation:nodes.backupPath: must not be nodes.installPath (both are /opt/alys): the backup would copy the install folder into itself; keep each folder outside the other (the defaults: /opt/alys and /var/backups/alys/rollback)"]],
    ["backup and install folders nested", "backupPath inside installPath, written with .. and //",
        () => withNodes(stackConfig("staging"), 1, { installPath: "/opt/alys/./", backupPath: "/var/../opt//alys/backups/" }),
        ["speculation:nodes.backupPath: must not be inside nodes.installPath (/opt/alys/backups is inside /opt/alys): the backup would copy the install folder into itself; keep each folder outside the other (the defaults: /opt/alys and /var/backups/alys/rollback)"]],
    ["backup and install folders nested", "installPath inside backupPath",
        () => withNodes(stackConfig("staging"), 1, { installPath: "/srv/alys", backupPath: "/srv" }),
        ["speculation:nodes.installPath: must not be inside nodes.backupPath (/srv/alys is inside /srv): the installation would sit among the backups, the rollout's state and its lock; keep each folder outside the other (the defaults: /opt/alys and /var/backups/alys/rollback)"]],
    ["backup and install folders nested", "installPath the root folder (.. past it stays at /)",
        () => withNodes(stackConfig("staging"), 1, { installPath: "/opt/../.." }),
        ["speculation:nodes.backupPath: must not be inside nodes.installPath (/var/backups/alys/rollback is inside /): the backup would copy the install folder into itself; keep each folder outside the other (the defaults: /opt/alys and /var/backups/alys/rollback)"]],
    ["a node folder the shell would read", "command substitution in installPath (double quotes do not stop it)",
        () => withNodes(stackConfig("staging"), 1, { installPath: "/opt/$(reboot)" }),
        ["speculation:nodes.installPath: must be an absolute path of letters, digits and . _ - + @ : , / (the install folder; it is written into the node's shell commands)"]],
    ["a node folder the shell would read", "a double quote in backupPath",
        () => withNodes(stackConfig("staging"), 1, { backupPath: "/var/backups/\"alys" }),
        ["speculation:nodes.backupPath: must be an absolute path of letters, digits and . _ - + @ : , / (the backups, the rollout's state and its lock; it is written into the node's shell commands)"]],
    ["nested unknown keys", "a typo in canary.gate",
        () => withEdit(stackConfig("staging"), key("canary"), "gate.pollIntervall", "30s"),
        [/^speculation:canary\.gate: unknown key "pollIntervall" \(did you mean "pollInterval"\?\); allowed: (\w+, )*artifactsDir, (\w+, )*deadlineSlack, (\w+, )*pollInterval, (\w+, )*timeout/]],
    ["nested unknown keys", "a wrongly cased key inside a list item",
        () => withNodes(stackConfig("staging"), 1, { hosts: [{ name: "alys-1", host: "10.0.0.1", user: "deploy", hostkey: TEST_HOST_KEY }] }),
        ["speculation:nodes.hosts[0].hostKey: is required (must be the node's pinned public host key (\"ssh-ed25519 AAAA…\"))",
            "speculation:nodes.hosts[0]: unknown key \"hostkey\" (did you mean \"hostKey\"?); allowed: host, hostKey, name, port, user"]],
    ["nested unknown keys", "two unknown keys, one far from anything",
        () => withEdit(withEdit(stackConfig("staging"), key("canary"), "gate.revert.deadlin", "1m"), key("canary"), "gate.revert.colour", "red"),
        ["speculation:canary.gate.revert: unknown keys \"deadlin\" (did you mean \"deadline\"?), \"colour\"; allowed: deadline, watchdogActionUrl"]],
    ["nested unknown keys", "two neighbours swapped in a short top-level key (nodse)",
        () => withEdit(stackConfig("staging"), key("nodse"), undefined, { forks: 2 }),
        ["speculation:nodse: unknown key (did you mean \"nodes\"?); allowed: adminToken, alertReceivers, bench, canary, environment, hardening, kubernetes, monitoring, namespace, nodes, preflight, proofWorkers, pushgatewayCredentials, records, registryCredentials, release, rollback, rolloutPercentage, service, signing, slo, smoke, sshPrivateKey, thresholds, verify, watchdog"]],
    ["nested unknown keys", "two neighbours swapped in a short key of nodes (fokrs)",
        () => withEdit(stackConfig("staging"), key("nodes"), "fokrs", 2),
        [/^speculation:nodes: unknown key "fokrs" \(did you mean "forks"\?\); allowed: /]],
    ["nested unknown keys", "two neighbours swapped in a key inside a list item (uesr)",
        () => withNodes(stackConfig("staging"), 1, { hosts: [{ name: "alys-1", host: "10.0.0.1", uesr: "deploy", hostKey: TEST_HOST_KEY }] }),
        ["speculation:nodes.hosts[0].user: is required (must be a user name)",
            "speculation:nodes.hosts[0]: unknown key \"uesr\" (did you mean \"user\"?); allowed: host, hostKey, name, port, user"]],
    ["the guard's production floor", "the watchdog off in window mode",
        () => withEdit(stackConfig("production"), key("watchdog"), "enabled", false),
        ["speculation:watchdog.enabled: must be true in production with canary.gate.bakeMode window (between ups the watchdog is the only guard)"]],
    ["the guard's production floor", "sentinels off after 100 %",
        () => withEdit(stackConfig("production"), key("watchdog"), "sentinel.enabled", false),
        [/^speculation:watchdog\.sentinel\.enabled: must be true in production with canary\.gate\.bakeMode window .*only the sentinels probe/]],
    ["the guard's production floor", "CUSUM off in feature-flag mode (no canary judge to replace it)",
        () => withEdit(stackConfig("production"), key("canary"), "gate.cusum.enabled", false),
        [/^speculation:canary\.gate\.cusum\.enabled: must be true in production with canary\.gate\.bakeMode window .*unless a two-track shift mode/]],
    ["the guard's production floor", "onFailure fail",
        () => withEdit(stackConfig("production"), key("canary"), "gate.onFailure", "fail"),
        [/^speculation:canary\.gate\.onFailure: must be revert in production .*fail leaves traffic on a failed canary/]],
    ["the guard's production floor", "no Pushgateway for the stages' error baselines",
        () => withEdit(stackConfig("production"), key("records"), "pushgatewayUrl", undefined),
        [/^speculation:records\.pushgatewayUrl: must be set in production with canary\.gate\.bakeMode window .*SpeculationErrorRateSpike compares each stage with its own pre-shift error baseline/]],
    ["the guard's evidence", "a retention shorter than the longest bake plus a week",
        () => withEdit(stackConfig("production"), key("monitoring"), "retention", "3d"),
        ["speculation:monitoring.retention: must be at least 8d: the longest bake (1d) plus 7d for the next up to judge it from Prometheus history"]],
    ["the guard's bound", "production intervals that put 0 % more than 7 min away (the key that contributes most named, not always the scrape interval)",
        () => withEdit(withEdit(stackConfig("production"), key("monitoring"), "scrapeInterval", "30s"), key("monitoring"), "evaluationInterval", "30s"),
        [/^speculation:monitoring\.evaluationInterval: contributes most of a guard bound of 7m 51s \(SpeculationRollbackRateAbort: scrape \(interval \+ timeout\) 40s \+ .*\), above watchdog\.maxGuardBound \(7m\); by key: .*monitoring\.evaluationInterval 1m 35s.*\. Shorten monitoring\.evaluationInterval, or raise watchdog\.maxGuardBound/]],
    ["the guard's bound", "a production stack whose own limit (watchdog.maxGuardBound 6m) is below its bound",
        () => withEdit(stackConfig("production"), key("watchdog"), "maxGuardBound", "6m"),
        [/^speculation:monitoring\.evaluationInterval: contributes most of a guard bound of 6m 51s .*above watchdog\.maxGuardBound \(6m\)/]],
    ["the guard's bound", "a limit that is no duration",
        () => withEdit(stackConfig("production"), key("watchdog"), "maxGuardBound", "0m"),
        ["speculation:watchdog.maxGuardBound: must be longer than 0s (the longest guard bound the stack accepts)"]],
    ["the guard's production floor", "one watchdog replica (no PodDisruptionBudget, no spread)",
        () => withEdit(stackConfig("production"), key("watchdog"), "replicas", 1),
        ["speculation:watchdog.replicas: must be from 2 to 5 in production (is 1): one replica has no PodDisruptionBudget and no spread over nodes, so a drain or a node failure leaves no revert path between ups (policy guard-floor)"]],
    ["the guard's poll path", "a watch-mode operator stack whose watchdog has only Alertmanager (no Prometheus URL anywhere)",
        () => withEdit(stackConfig("staging"), key("watchdog"), undefined, undefined),
        [/^speculation:watchdog\.prometheusUrl: must be set when the watchdog runs with monitoring\.mode operator and no canary\.gate\.prometheusUrl .*repeat_interval, outside the guard's bound$/]],
    ["the guard's timings", "a rehearsal's for: outside local",
        () => withEdit(stackConfig("staging"), key("monitoring"), "rehearsalFor", "2s"),
        ["speculation:monitoring.rehearsalFor: is only allowed in environment local (a deployed stack's alerts keep the seeds' for: durations)"]],
    ["the guard's timings", "a first attempt longer than the admin API's timeout",
        () => withEdit(stackConfig("staging"), key("watchdog"), "attemptTimeout", "20s"),
        ["speculation:watchdog.attemptTimeout: must be at most watchdog.adminApiTimeout (10s): the attempts' timeouts grow from it to that"]],
    ["the guard's timings", "a watchdog deadline shorter than its own attempt schedule",
        () => withEdit(withEdit(stackConfig("staging"), key("watchdog"), "adminApiTimeout", "60s"), key("watchdog"), "revertDeadline", "30s"),
        [/^speculation:watchdog\.revertDeadline: must be at least \d+m\d*s?: the watchdog's attempts up to watchdog\.adminApiTimeout \(60s\) take that long in the worst case$/]],
    ["nested unknown keys", "a top-level typo",
        () => withEdit(stackConfig("staging"), key("canery"), undefined, { steps: [] }),
        ["speculation:canery: unknown key (did you mean \"canary\"?); allowed: adminToken, alertReceivers, bench, canary, environment, hardening, kubernetes, monitoring, namespace, nodes, preflight, proofWorkers, pushgatewayCredentials, records, registryCredentials, release, rollback, rolloutPercentage, service, signing, slo, smoke, sshPrivateKey, thresholds, verify, watchdog"]],
];

describe("config refused before anything registers (issue 15's classes)", function () {
    this.timeout(30_000);
    const engine = new MockEngine();

    for (const [klass, name, config, problems] of CASES) {
        it(`${klass}: ${name}`, () => {
            const c = config();
            engine.install(c, "speculation:sshPrivateKey" in c ? NODE_SECRET_KEYS : []);
            const error = expectConfigRefusal();
            const got = error.problems;
            expect(got).to.have.length(problems.length);
            problems.forEach((p, i) => (typeof p === "string" ? expect(got[i]).to.equal(p) : expect(got[i]).to.match(p)));
            expect(engine.resources, "nothing registered before the error").to.have.length(0);
        });
    }

    it("the same stacks with the offending value fixed are accepted, and register resources (so zero above means refused first)", async function () {
        // Fourteen whole programs under mocks: 10–20 s idle, past 30 s with a busy loop on every core.
        this.timeout(180_000);
        const fixed: Config[] = [
            withEdit(stackConfig("staging"), key("thresholds"), "abortRollbackRate", 0.05),
            withEdit(stackConfig("staging"), key("release"), "images.speculation.repository", "registry.local:5000/agenc/speculation"),
            withNodes(stackConfig("staging"), 2),
            withEdit(stackConfig("staging"), key("canary"), "gate.pollInterval", "15s"),
            withEdit(withEdit(stackConfig("staging"), key("canary"), "ingress.await", "load-balancer"), key("canary"), "ingress.awaitTimeout", "24h"),
            withNodes(stackConfig("production"), 2),
            oneHost(`ecdsa-sha2-nistp256 ${ECDSA_BLOB}`),
            // Side by side, one name a prefix of the other: neither folder is inside the other.
            withNodes(stackConfig("staging"), 1, { installPath: "/opt/alys", backupPath: "/opt/alys-backups" }),
            withEdit(stackConfig("staging"), key("rollback"), "drainTimeout", "15s"),
            // Staging may relax the guard's floor (the policy pack is advisory there).
            withEdit(withEdit(withEdit(stackConfig("staging"), key("watchdog"), "sentinel.enabled", false), key("canary"), "gate.bakeMode", "window"),
                key("canary"), "gate.prometheusUrl", "http://prometheus.monitoring.svc:9090"),
            withEdit(stackConfig("production"), key("monitoring"), "retention", "8d"),
            // The stack's own limit raised: the same 7m 51s intervals load (the policy pack's ceiling must allow 8m too).
            withEdit(withEdit(withEdit(stackConfig("production"), key("monitoring"), "scrapeInterval", "30s"), key("monitoring"), "evaluationInterval", "30s"),
                key("watchdog"), "maxGuardBound", "8m"),
            // Staging may run one watchdog replica (guard-floor is advisory there); a watchdog-less or standalone stack needs no URL.
            withEdit(stackConfig("staging"), key("watchdog"), "replicas", 1),
            withEdit(withEdit(stackConfig("staging"), key("watchdog"), undefined, undefined), key("monitoring"), "mode", "standalone"),
        ];
        for (const c of fixed) {
            engine.install(c, "speculation:sshPrivateKey" in c ? NODE_SECRET_KEYS : []);
            await settle(defineStack(loadStackConfig()) as unknown as Record<string, unknown>);
            expect(engine.resources.length).to.be.greaterThan(5);
        }
    });

    it("the policy pack's production config holds the same minimums as the schema (its second line of defence)", () => {
        const pack = JSON.parse(readFileSync(path.join(ROOT, "policy/config/production.json"), "utf8"));
        expect(pack["proof-workers-min-replicas"].minProofWorkerReplicas).to.equal(PRODUCTION_RULES.minProofWorkerReplicas);
        expect(pack["gate-thresholds"].minBakeSeconds).to.equal(PRODUCTION_RULES.minBakeSeconds);
        expect(pack["images-pinned"].requireImageDigest).to.equal(PRODUCTION_RULES.requireImageDigest);
        expect(pack["every-stage-gated"].requireBench).to.equal(PRODUCTION_RULES.requireBench);
        expect(pack["node-rollout-limits"].maxFailPercentage).to.equal(PRODUCTION_RULES.maxFailPercentage);
        expect(pack["topology-spread"].requireHardSpread).to.equal(PRODUCTION_RULES.requireHardSpread);
        // The guard bound's ceiling is not repeated: the pack's default is the key's (GUARD_BOUND_LIMIT_SECONDS).
        expect(pack["guard-bound"], "guard-bound's limit comes from GUARD_BOUND_LIMIT_SECONDS, not a copy").to.equal(undefined);
        expect(pack["slo-bounds"]).to.deep.equal({
            minSloObjective: PRODUCTION_RULES.minSloObjective, maxSloObjective: PRODUCTION_RULES.maxSloObjective,
            minBudgetFloor: PRODUCTION_RULES.minBudgetFloor, maxBudgetFloor: PRODUCTION_RULES.maxBudgetFloor,
        });
    });

    it("the SLO's ranges have one source (config/thresholds.ts): the schema's bounds and the pack's slo-bounds defaults read them", () => {
        expect({ min: POLICY_DEFAULTS.minSloObjective, max: POLICY_DEFAULTS.maxSloObjective }).to.deep.equal(SLO_OBJECTIVE_RANGE);
        expect({ min: POLICY_DEFAULTS.minBudgetFloor, max: POLICY_DEFAULTS.maxBudgetFloor }).to.deep.equal(SLO_BUDGET_FLOOR_RANGE);
        const source = readFileSync(path.join(ROOT, "policy/policies.ts"), "utf8");
        expect(source, "no copy of the numbers in the pack").to.not.match(/(min|max)(SloObjective|BudgetFloor): \d/);
        const slo = readFileSync(path.join(ROOT, "config/slo.ts"), "utf8");
        expect(slo, "the schema's bounds are read from config/thresholds.ts").to.not.match(/\.(min|max)\(\d/);
    });
});
