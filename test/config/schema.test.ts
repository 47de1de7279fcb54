import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { ConfigError, loadStackConfig, parseDuration, parseStackConfig } from "../../config";
import { defineStack } from "../../program";
import { encodeConfig, MockEngine, stackConfig, withEdit } from "../helpers/stack";

type Edit = [key: string, path: string | undefined, value: unknown];
const key = (k: string) => `speculation:${k}`;
/** An admin token long enough to be accepted (MIN_ADMIN_TOKEN_LENGTH). */
const LONG_TOKEN = "t0ken-0123456789abcdef0123456789abcdef";
const SSH_KEY: Edit = [key("sshPrivateKey"), undefined, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"];
/** A binary that exists: the loader refuses a nodes.binary that does not. */
const BINARY = path.join(mkdtempSync(path.join(tmpdir(), "alys-bin-")), "alys");
writeFileSync(BINARY, "#!/bin/sh\necho alys v1.2.3\n");
const HOST = { name: "node-1", host: "10.0.0.1", port: 22, user: "deploy", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" };

/** Each bad configuration, applied to a valid stack file, and the exact line the operator must see. */
const BAD: { base: "staging" | "production"; edits: Edit[]; message: string; secretKeys?: string[] }[] = [
    { base: "staging", edits: [[key("environment"), undefined, "prod"]], message: "speculation:environment: must be one of: local, staging, production" },
    { base: "staging", edits: [[key("environment"), undefined, undefined]], message: "speculation:environment: is required (must be one of: local, staging, production)" },
    { base: "staging", edits: [[key("namespace"), undefined, "agenc-prod"]], message: "speculation:namespace: must be agenc-staging for environment staging" },
    { base: "staging", edits: [[key("namespace"), undefined, "Agenc_Staging"]], message: "speculation:namespace: must be agenc-<env> (lower-case letters, digits, -)" },
    { base: "staging", edits: [[key("release"), "version", "latest"]], message: "speculation:release.version: must be a release tag such as v1.2.3 (not latest)" },
    { base: "staging", edits: [[key("release"), "previousVersion", "v1.2.3"]], message: "speculation:release.previousVersion: must differ from release.version (v1.2.3)" },
    { base: "staging", edits: [[key("release"), undefined, undefined]], message: "speculation:release: is required (must be set: { version, previousVersion, images })" },
    { base: "staging", edits: [[key("release"), "images.speculation.repository", "GHCR.io/Agenc:latest"]], message: "speculation:release.images.speculation.repository: must be an image repository such as ghcr.io/agenc/speculation (lower-case path, optional registry host[:port], no tag or digest)" },
    { base: "production", edits: [[key("release"), "images.proofWorker.digest", undefined]], message: "speculation:release.images.proofWorker.digest: is required in production (sha256:<64 hex digits>)" },
    { base: "production", edits: [[key("release"), "images.speculation.digest", "sha256:abc"]], message: "speculation:release.images.speculation.digest: must be an image digest of the form sha256:<64 hex digits>" },
    { base: "staging", edits: [[key("proofWorkers"), "replicas", 1]], message: "speculation:proofWorkers.replicas: must be at least 2 (the seed's minimum)" },
    { base: "staging", edits: [[key("proofWorkers"), "replicas", 2.5]], message: "speculation:proofWorkers.replicas: must be a whole number from 2 to 64" },
    { base: "staging", edits: [[key("proofWorkers"), "replicas", "four"]], message: "speculation:proofWorkers.replicas: must be a whole number from 2 to 64" },
    { base: "staging", edits: [[key("proofWorkers"), "resources.limits.cpu", "lots"]], message: "speculation:proofWorkers.resources.limits.cpu: must be a CPU quantity such as \"500m\" or \"4\"" },
    { base: "staging", edits: [[key("service"), "resources.requests.memory", "8 gigs"]], message: "speculation:service.resources.requests.memory: must be a memory quantity such as \"512Mi\" or \"8Gi\"" },
    { base: "staging", edits: [[key("service"), "mode", "yolo"]], message: "speculation:service.mode: must be one of: conservative, aggressive" },
    { base: "staging", edits: [[key("service"), "maxDepth", 0]], message: "speculation:service.maxDepth: must be at least 1" },
    { base: "staging", edits: [[key("service"), "colour", "blue"]], message: "speculation:service: unknown key \"colour\"; allowed: maxDepth, mode, replicas, resources, speculationEnabled" },
    { base: "staging", edits: [[key("rolloutPercentage"), undefined, 30]], message: "speculation:rolloutPercentage: must be 0 or one of the canary step percentages (0, 10, 50, 100)" },
    { base: "staging", edits: [[key("rolloutPercentage"), undefined, 150]], message: "speculation:rolloutPercentage: must be from 0 to 100" },
    { base: "staging", edits: [[key("rolloutPercentage"), undefined, 10], [key("service"), "speculationEnabled", false]], message: "speculation:rolloutPercentage: must be 0 while service.speculationEnabled is false" },
    { base: "production", edits: [[key("canary"), "steps[2].percentage", 20]], message: "speculation:canary.steps[2].percentage: must be greater than the previous step (25)" },
    { base: "production", edits: [[key("canary"), "steps[3].percentage", 90]], message: "speculation:canary.steps[3].percentage: the last step must be 100" },
    { base: "staging", edits: [[key("canary"), "steps[0].percentage", 20]], message: "speculation:canary.steps[0].percentage: the first step must carry at most 10 % of traffic" },
    { base: "staging", edits: [[key("canary"), "steps[1].bake", "15 minutes"]], message: "speculation:canary.steps[1].bake: must be a duration such as 30s, 15m or 4h (how long the step soaks before its gate may pass)" },
    { base: "staging", edits: [[key("canary"), "steps[1].bake", "10s"]], message: "speculation:canary.steps[1].bake: must be at least one poll interval (30s)" },
    { base: "staging", edits: [[key("canary"), "shiftMode", "dns"]], message: "speculation:canary.shiftMode: must be one of: feature-flag, ingress-weight, blue-green" },
    { base: "staging", edits: [[key("canary"), "steps[0].thresholds.maxRollbackRate", 0.2]], message: "speculation:canary.steps[0].thresholds.maxRollbackRate: must not be looser than the go/no-go table (at most 0.05)" },
    { base: "staging", edits: [[key("thresholds"), "maxProofQueueSize", 5000]], message: "speculation:thresholds.maxProofQueueSize: must not be looser than the go/no-go table (at most 2000)" },
    { base: "staging", edits: [[key("canary"), "gate.onFailure", "ignore"]], message: "speculation:canary.gate.onFailure: must be one of: revert, fail" },
    { base: "staging", edits: [[key("canary"), "gate.source", "prometheus"]], message: "speculation:canary.gate.prometheusUrl: must be set when canary.gate.source is prometheus" },
    { base: "staging", edits: [[key("canary"), "gate.serviceUrl", "not a url"]], message: "speculation:canary.gate.serviceUrl: must be an http(s) URL" },
    { base: "staging", edits: [[key("monitoring"), "mode", "both"]], message: "speculation:monitoring.mode: must be one of: operator, standalone" },
    { base: "staging", edits: [[key("kubernetes"), "podSecurity", "strict"]], message: "speculation:kubernetes.podSecurity: must be one of: privileged, baseline, restricted" },
    { base: "staging", edits: [[key("monitoring"), "scrapeInterval", "fast"]], message: "speculation:monitoring.scrapeInterval: must be a duration such as 30s, 15m or 4h (Prometheus scrape interval)" },
    { base: "staging", edits: [[key("nodes"), "hosts", [{ ...HOST, hostKey: "AAAA" }]], [key("nodes"), "binary", BINARY]], message: "speculation:nodes.hosts[0].hostKey: must be a pinned public host key such as \"ssh-ed25519 AAAA…\" (type and base64 key, no host name)" },
    { base: "staging", edits: [[key("nodes"), "hosts", [HOST, { ...HOST, name: "node-2" }]], [key("nodes"), "binary", BINARY], SSH_KEY], secretKeys: [key("sshPrivateKey")], message: "speculation:nodes.hosts[1].host: duplicates an earlier node address (10.0.0.1:22)" },
    { base: "staging", edits: [[key("nodes"), "hosts", [{ ...HOST, port: 70000 }]], [key("nodes"), "binary", BINARY]], message: "speculation:nodes.hosts[0].port: must be from 1 to 65535" },
    { base: "staging", edits: [[key("nodes"), "hosts", [HOST]], SSH_KEY], secretKeys: [key("sshPrivateKey")], message: "speculation:nodes.binary: must name the local path of the binary to roll out when nodes.hosts is set" },
    { base: "staging", edits: [[key("canary"), "ingress.publicPaths", [{ path: "/" }]]], message: "speculation:canary.ingress.publicPaths[0].path: must be an absolute path of plain segments such as \"/api\" or \"/api/v1\" (not \"/\"; no regex characters, \"//\", \".\" or \"..\": ingress-nginx may read paths as regular expressions)" },
    { base: "staging", edits: [[key("canary"), "ingress.publicPaths", [{ path: "/api" }, { path: "/Admin/config", pathType: "Exact" }]]], message: "speculation:canary.ingress.publicPaths[1].path: routes /admin of the speculation service to the public; /admin and /metrics stay inside the cluster (list only the service's public API paths, such as \"/api\")" },
    { base: "staging", edits: [[key("canary"), "ingress.publicPaths", [{ path: "/api", pathType: "ImplementationSpecific" }]]], message: "speculation:canary.ingress.publicPaths[0].pathType: must be one of: Prefix, Exact" },
    { base: "staging", edits: [[key("canary"), "ingress.publicPaths", [{ path: "/api" }, { path: "/API", pathType: "Prefix" }]]], message: "speculation:canary.ingress.publicPaths[1].path: duplicates an earlier entry (/API, Prefix)" },
    { base: "staging", edits: [[key("nodes"), "clearRestoreFailed", ["node-1"]]], message: "speculation:nodes.clearRestoreFailed[0]: each entry must be <node>@<stamp> of the failed rollout (such as \"alys-2@20261128224012\"), as the refused rollout prints it" },
    { base: "staging", edits: [[key("nodes"), "hosts", [HOST]], [key("nodes"), "binary", BINARY], [key("nodes"), "clearRestoreFailed", ["node-1@20261128200000", "node-9@20261128200000"]], SSH_KEY], secretKeys: [key("sshPrivateKey")], message: "speculation:nodes.clearRestoreFailed[1]: names node-9, which is not in nodes.hosts (node-1)" },
    { base: "staging", edits: [[key("nodes"), "serial", [1, "200%"]]], message: "speculation:nodes.serial[1]: each batch must be a node count (1, 5) or a percentage of the nodes (\"20%\")" },
    { base: "staging", edits: [[key("nodes"), "maxFailPercentage", 80]], message: "speculation:nodes.maxFailPercentage: must be from 0 to 50" },
    { base: "staging", edits: [[key("bench"), "enabled", true]], message: "speculation:bench.command: must be set when bench.enabled is true" },
    { base: "staging", edits: [[key("bench"), "maxTailRatio", 3]], message: "speculation:bench.maxTailRatio: must not be looser than 2" },
    { base: "staging", edits: [[key("bench"), "repeats", 0]], message: "speculation:bench.repeats: must be a whole number from 1 to 10" },
    { base: "staging", edits: [[key("bench"), "repeats", 2.5]], message: "speculation:bench.repeats: must be a whole number from 1 to 10" },
    { base: "staging", edits: [[key("bench"), "repeats", 11]], message: "speculation:bench.repeats: must be a whole number from 1 to 10" },
    { base: "staging", edits: [[key("bench"), "maxSpread", 0]], message: "speculation:bench.maxSpread: must be greater than 0 and at most 1" },
    { base: "staging", edits: [[key("bench"), "maxSpread", 1.5]], message: "speculation:bench.maxSpread: must be greater than 0 and at most 1" },
    { base: "staging", edits: [[key("bench"), "extraGates", [{ metric: "p42_ms", comparator: "lt", value: 1 }]]], message: "speculation:bench.extraGates[0].metric: must be one of: p50_ms, p95_ms, p99_ms, throughput_per_s, error_rate" },
    { base: "staging", edits: [[key("colour"), undefined, "blue"]], message: "speculation:colour: unknown key; allowed: adminToken, alertReceivers, bench, canary, environment, hardening, kubernetes, monitoring, namespace, nodes, preflight, proofWorkers, pushgatewayCredentials, records, registryCredentials, release, rollback, rolloutPercentage, service, signing, slo, smoke, sshPrivateKey, thresholds, verify, watchdog" },
    // The SLO (config/slo.ts): each key names what it allows; production's bounds (policy slo-bounds).
    { base: "staging", edits: [[key("slo"), "objective", 99.9]], message: "speculation:slo.objective: must be a number from 0.9 to 0.99999 (the share of operations that succeed: 0.999 is 99.9 %)" },
    { base: "staging", edits: [[key("slo"), "window", "30d"]], message: "speculation:slo.window: must be one of: 7d, 28d" },
    { base: "staging", edits: [[key("slo"), "gatePair", "5x"]], message: "speculation:slo.gatePair: must be one of: 14.4x, 6x, 3x, 1x" },
    { base: "staging", edits: [[key("slo"), "budgetFloor", 50]], message: "speculation:slo.budgetFloor: must be a number from 0 to 1 (the share of the window's error budget that must be left for a stage to advance: 0.5 is half)" },
    { base: "production", edits: [[key("slo"), "objective", 0.99]], message: "speculation:slo.objective: must be from 0.999 to 0.9999 in production (policy slo-bounds; seed 001: 99.9 % in the first week)" },
    { base: "production", edits: [[key("slo"), "budgetFloor", 0.1]], message: "speculation:slo.budgetFloor: must be from 0.25 to 0.9 in production (policy slo-bounds)" },
    { base: "staging", edits: [[key("nodes"), "hosts", [HOST]], [key("nodes"), "binary", BINARY]], message: "speculation:sshPrivateKey: is required when speculation:nodes.hosts is set" },
    { base: "staging", edits: [[key("bench"), "onNode", "alys-9"]], message: "speculation:bench.onNode: must be one of the nodes in nodes.hosts (none declared)" },
    { base: "staging", edits: [[key("adminToken"), undefined, "t0ken"]], secretKeys: [key("adminToken")], message: "speculation:adminToken: must be at least 32 characters (the generated one has 48)" },
    { base: "staging", edits: [[key("kubernetes"), "enabled", false]], message: "speculation:adminToken: is required when speculation:kubernetes.enabled is false (the token of the service the gates talk to)" },
    { base: "staging", edits: [[key("kubernetes"), "enabled", false], [key("adminToken"), undefined, LONG_TOKEN]], message: "speculation:adminToken: must be set as a secret (pulumi config set --secret)" },
    { base: "staging", edits: [[key("kubernetes"), "enabled", false], [key("canary"), "gate", { alertmanagerUrl: "http://alertmanager:9093" }], [key("adminToken"), undefined, LONG_TOKEN]], secretKeys: [key("adminToken")], message: "speculation:canary.gate.serviceUrl: must be set when kubernetes.enabled is false (the program deploys no service)" },
    { base: "staging", edits: [[key("canary"), "gate", { serviceUrl: "http://svc:9090" }]], message: "speculation:canary.gate.alertmanagerUrl: must be set (or canary.gate.prometheusUrl): every gate checks that no critical alert is firing (seed 000: any critical alert is a rollback)" },
    { base: "staging", edits: [[key("canary"), "gate", { serviceUrl: "http://svc:9090", alertmanagerUrl: "http://am:9093", cusum: { h: 0 } }]], message: "speculation:canary.gate.cusum.h: must be greater than 0" },
    { base: "production", edits: [[key("kubernetes"), "enabled", false], [key("adminToken"), undefined, LONG_TOKEN]], secretKeys: [key("adminToken")], message: "speculation:kubernetes.enabled: must be true in production" },
    { base: "staging", edits: [[key("nodes"), "hosts", [HOST]], [key("nodes"), "binary", BINARY], SSH_KEY], message: "speculation:sshPrivateKey: must be set as a secret (pulumi config set --secret)" },
    { base: "staging", edits: [[key("alertReceivers"), undefined, { slackWebhookUrl: "https://hooks.slack.example/x" }]], message: "speculation:alertReceivers: must be set as a secret (pulumi config set --secret --path ...)" },
    { base: "staging", edits: [[key("alertReceivers"), undefined, { slackWebhookUrl: "http://hooks.slack.example/x" }]], secretKeys: ["speculation:alertReceivers"], message: "speculation:alertReceivers.slackWebhookUrl: must be an https:// webhook URL" },
];

function apply(base: "staging" | "production", edits: Edit[]): Record<string, unknown> {
    return edits.reduce((config, [k, p, v]) => withEdit(config, k, p, v), stackConfig(base));
}

describe("stack config", () => {
    it("accepts both stack files", () => {
        for (const stack of ["staging", "production"] as const) {
            expect(() => parseStackConfig(encodeConfig(stackConfig(stack)))).to.not.throw();
        }
    });

    it("fills the seeds' defaults", () => {
        const { config, namespace } = parseStackConfig(encodeConfig({
            "speculation:environment": "staging", "speculation:release": { version: "v1.0.1", previousVersion: "v1.0.0" },
            "speculation:canary": { gate: { alertmanagerUrl: "http://alertmanager:9093" } },
            // Operator monitoring by default, and gates given only Alertmanager: the watchdog needs its Prometheus named.
            "speculation:watchdog": { prometheusUrl: "http://prometheus:9090" },
        }));
        expect(namespace).to.equal("agenc-staging");
        expect(config.canary.steps.map((s) => [s.percentage, s.bake])).to.deep.equal([[10, "4h"], [25, "8h"], [50, "24h"], [100, "24h"]]);
        expect(config.service).to.include({ mode: "conservative", maxDepth: 2, speculationEnabled: true });
        expect(config.nodes).to.include({ installPath: "/opt/alys", serviceName: "alys", healthRetries: 30, healthInterval: "2s", minFreeDiskGb: 50 });
        expect(config.monitoring).to.include({ mode: "operator", scrapeInterval: "15s" });
    });

    it(`rejects ${BAD.length} bad configurations with one exact message each, before any resource is registered`, () => {
        expect(BAD.length).to.be.at.least(30);
        const engine = new MockEngine();
        for (const bad of BAD) {
            engine.install(apply(bad.base, bad.edits), bad.secretKeys ?? []);
            let error: unknown;
            try {
                defineStack(loadStackConfig());
            } catch (e) {
                error = e;
            }
            expect(error, bad.message).to.be.instanceOf(ConfigError);
            expect((error as ConfigError).problems, bad.message).to.deep.equal([bad.message]);
            expect(engine.resources, bad.message).to.have.length(0);
        }
    });

    it("accepts a real host key of every pinned type, exactly as ssh-keyscan prints it (base64 with and without padding)", () => {
        // Generated with ssh-keygen for this test; the schema requires the blob to be the key's own, canonically encoded.
        const keys = [
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEYChos8dZXFWdp4wd9iNOOCxL+e7qEjUEPdZOn/y4VffYM2ftWfYFbGdr+l7541kJjBRbVu6nUkB7mMhSWZags=",
            "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBC5FuZUhaBZW8xiQXTDlUeU84WKf6fZTKBmNW/eEp1QuwBdkidlJoiG/FrS17bYe8XI4qlFwJfh3OhugIACxi1kWCtGwdJ6RDGvktWEdeAMo5WvwUhjwTxJu5lwZm4NGww==",
            "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBABEZKQ077uu+AZrX13l2T6sdKemCkg2mNRl9rbjDGNTI6oV5mELLQb1x/S9o2vkhay4GdTI5KCGWVYZt5a3gvdDPgH+b+EasPSzizcBz2K8Welmcax5ZRbfb6hKQGauna9sn3hoNHZxUdIS269s719Xlbxl6gt6InAe/Rs2VcqES97b9Q==",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC85bgfqK50K974NGIgJcOmjMq05N3l509U6QOq0I7oA",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC9+/wU4w605X5pKpnbuX/BUtViZOtST14zF83VpVy+h9pYJhFTnowT/g3f+qrc69wmNFk4O2rCap4gGLz0lHp0LdDYFdfC/nIMqY6XLVv0ujIBZ6YZ1xIDpcEltmNQnoHhGExsCTI5BLFVww8ku9+QyBKe3eTXNINp78Cmimq5t1BFPfSsI/0DT6wfpSGF2Heco2JQtowDFOAq7G4REVSRk8nAJ025cvgv58YRml/mK8QIjR8N6wxvsnaSoMrOJjMwDeCwmBNfpoDZgqh/WvRDWu3Oat+aHRSqJ/vj4pTyuzPPnzLjrBwPdE/XI7r6Mlu7uxoHi29Uklc6leMEklnn",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDgxlf0jECXFXNHDvGFaFCWioQzrWRJ2RErd+YVmCcePdcqjrCc0eNv+FCIqrL3gwpjB1lKMuBx0OF5BjnqaJxFimuLTRD+cqq4QE1R9G2r4kFuoYZ4dO2Z1Pq/vvjrI/nHXDVii+LWdQTxqwraVr6ZRhfhW6hQSDyKePelhaJ/xk+UNNRulbp2QKDVvrpzmIjZOXZx22+LjI+6Pn+7P4TCGL/zzElQhfyiV2KwR+KSLOF1ZEuAqqXdHCoImO3EY+9YdQ/rLEi868X5N0PPZPFqWRU1lc6y2RY3pskRepy5zuFBqEzz1Lcao1EdU1pl28u8HwAovExfwsJ6gmPtD/nojodR0z4h7PVMsErdr2+QpWtUlP3LjFRLySaOkj4WhJ/j0f0wW0WqBkm3fdF5eiQkSl9Ty86WIo/bP00rJpl3ZwQg8MlvNreYUn7S2XnoMJCkuDs3d4WhHONBihy4UIFkcz2qKxEv67TJoRlMY85YJgAQYXNrSoMGQdwEHhWzMW8=",
        ];
        for (const hostKey of keys) {
            const config = apply("staging", [[key("nodes"), "hosts", [{ ...HOST, hostKey }]], [key("nodes"), "binary", BINARY], SSH_KEY]);
            expect(() => parseStackConfig(encodeConfig(config), new Set([key("sshPrivateKey")])), hostKey.split(" ")[0]).to.not.throw();
        }
    });

    it("lists every problem at once", () => {
        const config = apply("production", [[key("proofWorkers"), "replicas", 1], [key("canary"), "shiftMode", "dns"], [key("release"), "version", "latest"]]);
        expect(() => parseStackConfig(encodeConfig(config))).to.throw(ConfigError).with.property("problems").that.has.length(3);
    });

    it("never echoes a secret value in an error", () => {
        const config = { ...stackConfig("staging"), "speculation:alertReceivers": { pagerdutyRoutingKey: "short-SECRET" } };
        try {
            parseStackConfig(encodeConfig(config), new Set(["speculation:alertReceivers"]));
            expect.fail("should have thrown");
        } catch (e) {
            expect((e as Error).message).to.contain("speculation:alertReceivers.pagerdutyRoutingKey");
            expect((e as Error).message).to.not.contain("short-SECRET");
        }
    });
});

describe("durations", () => {
    it("parses the operators' notation", () => {
        expect(parseDuration("30s")).to.equal(30);
        expect(parseDuration("15m")).to.equal(900);
        expect(parseDuration("1h30m")).to.equal(5400);
        expect(parseDuration("1d")).to.equal(86400);
        expect(() => parseDuration("15 minutes")).to.throw(/not a duration/);
    });
});
