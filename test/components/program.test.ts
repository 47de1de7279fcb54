import { expect } from "chai";
import { parse } from "yaml";
import { CONFIG_CHECKSUM_ANNOTATION } from "../../components/SpeculationService";
import { MONITORING_MODES, SHIFT_MODES } from "../../config/schema";
import { restrictedViolations } from "../../lib/podSecurity";
import {
    isSecretOutput, MockEngine, NODE_SECRET_KEYS, secretEnvelope, stackConfig, TEST_HOST_KEY, valueOf, withEdit, withNodes, StackOutputs, } from "../helpers/stack";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";
const CUSTOM = (kind: string) => `kubernetes:monitoring.coreos.com/${["AlertmanagerConfig", "ScrapeConfig"].includes(kind) ? "v1alpha1" : "v1"}:${kind}`;


describe("the program under mocks", () => {
    const engine = new MockEngine();

    describe("staging", () => {
        let outputs: StackOutputs;
        before(async () => { outputs = await engine.render(stackConfig("staging")); });

        it("deploys proof workers as the seed describes", () => {
            const d = engine.byK8sName(DEPLOYMENT, "proof-workers").inputs;
            expect(d.metadata.namespace).to.equal("agenc-staging");
            expect(d.spec.replicas).to.equal(2);
            expect(d.spec.selector.matchLabels).to.deep.equal({ app: "proof-workers" });
            const c = d.spec.template.spec.containers[0];
            expect(c.image).to.equal("ghcr.io/agenc/proof-worker:v1.2.3");
            expect(c.ports[0].containerPort).to.equal(9091);
            expect(c.livenessProbe.tcpSocket).to.deep.equal({ port: 9091 });
            expect(c.readinessProbe.httpGet).to.deep.equal({ path: "/health", port: 9091 });
            expect(c.resources).to.deep.equal({
                requests: { cpu: "4", memory: "8Gi", "ephemeral-storage": "256Mi" }, limits: { cpu: "8", memory: "16Gi", "ephemeral-storage": "1Gi" },
            });
            expect(c.imagePullPolicy, "a tag can move: each start checks the registry").to.equal("Always");
        });

        it("gives each workload a Service and a PodDisruptionBudget", () => {
            for (const app of ["proof-workers", "agenc-speculation"]) {
                expect(engine.byK8sName(SERVICE, app).inputs.spec.selector).to.deep.equal({ app });
                expect(engine.byK8sName(PDB, app).inputs.spec).to.deep.equal({ maxUnavailable: 1, selector: { matchLabels: { app } } });
            }
        });

        it("runs the speculation service with the seed's probe timings, disabled, its token from the Secret", () => {
            const d = engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs;
            const c = d.spec.template.spec.containers[0];
            expect(c.ports[0].containerPort).to.equal(9090);
            expect(c.livenessProbe).to.deep.equal({ httpGet: { path: "/health", port: 9090 }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 });
            expect(c.readinessProbe).to.deep.equal({ httpGet: { path: "/ready", port: 9090 }, initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 3 });
            expect(c.env).to.deep.include({ name: "SPECULATION_ENABLED", value: "false" });
            expect(c.env).to.deep.include({ name: "ADMIN_TOKEN", valueFrom: { secretKeyRef: { name: "agenc-speculation-secrets", key: "ADMIN_TOKEN" } } });
            expect(d.spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION]).to.match(/^[0-9a-f]{64}$/);
        });

        it("renders speculation-config as TOML with speculation off at 0 %", () => {
            const toml: string = engine.byK8sName(CONFIGMAP, "speculation-config").inputs.data["speculation.toml"];
            expect(toml).to.match(/\[speculation\]\s*\nenabled = false\nmode = "conservative"\nmax_depth = 2/);
            expect(toml).to.contain("rollout_percentage = 0");
        });

        it("creates the admin token with @pulumi/random and exports it only as a secret", async () => {
            expect(engine.ofType("random:index/randomPassword:RandomPassword")).to.have.length(1);
            expect(await isSecretOutput(outputs.adminToken!)).to.equal(true);
            const stringData = engine.byK8sName(SECRET, "agenc-speculation-secrets").inputs.stringData;
            expect(secretEnvelope(stringData)).to.deep.equal({ ADMIN_TOKEN: "mock-admin-token-0123456789abcdef" });
        });

        it("takes the operator's own admin token (a secret) instead, and then registers no RandomPassword", async () => {
            const own = new MockEngine();
            const token = "from-the-secret-manager-0123456789abcdef";
            const mine = await own.render(withEdit(stackConfig("production"), "speculation:adminToken", undefined, token), ["speculation:adminToken"]);
            expect(own.ofType("random:index/randomPassword:RandomPassword")).to.have.length(0);
            expect(secretEnvelope(own.byK8sName(SECRET, "agenc-speculation-secrets").inputs.stringData)).to.deep.equal({ ADMIN_TOKEN: token });
            expect(await isSecretOutput(mine.adminToken!)).to.equal(true);
            expect(await valueOf(mine.adminToken!)).to.equal(token);
            // The preflight reads the keys the program writes, not the Secret's stringData output (absent under the
            // real provider, so unknown in every preview: test/e2e/kubernetes.e2e.ts).
            const pre = own.resources.find((r) => r.type === "pulumi-nodejs:dynamic/agenc:Preflight");
            expect(pre, "production runs the preflight").to.not.equal(undefined);
            expect(pre!.inputs.secretSource).to.deep.equal({ kind: "kubernetes", name: "agenc-speculation-secrets", keys: ["ADMIN_TOKEN"] });
        });

        it("emits operator-mode monitoring: PrometheusRule, ServiceMonitors, AlertmanagerConfig, dashboard ConfigMaps", () => {
            const rule = engine.ofType(CUSTOM("PrometheusRule"));
            expect(rule).to.have.length(1);
            expect(rule[0].inputs.metadata.labels.release).to.equal("kube-prometheus-stack");
            expect(engine.ofType(CUSTOM("ServiceMonitor")).map((r) => r.inputs.metadata.name).sort()).to.deep.equal(["agenc-speculation", "proof-workers", "speculation-watchdog"]);
            expect(engine.ofType(CUSTOM("AlertmanagerConfig"))).to.have.length(1);
            const boards = engine.ofType(CONFIGMAP).filter((c) => c.inputs.metadata.labels?.grafana_dashboard === "1");
            expect(boards.map((b) => b.inputs.metadata.name).sort()).to.deep.equal(
                ["dashboard-agenc-performance", "dashboard-agenc-speculation-canary", "dashboard-agenc-speculation-slo", "dashboard-alys-nodes"]);
            expect(engine.byK8sName(DEPLOYMENT, "proof-workers").inputs.spec.template.metadata.annotations).to.deep.equal({});
        });

        it("declares no canary stage at 0 % and exports the rollout state", async () => {
            expect(engine.ofType("agenc:deploy:CanaryStage")).to.have.length(0);
            expect(outputs.rolloutPercentage).to.equal(0);
            expect(outputs.rolloutMode).to.equal("feature-flag");
            expect(await valueOf(outputs.namespace!)).to.equal("agenc-staging");
            expect(outputs.alertRules).to.include.members(["SpeculationRollbackRateAbort", "ProofQueueOverflow", "MemoryLeak"]);
        });

        it("parents every child to its component", () => {
            const components = ["agenc:deploy:ProofWorkers", "agenc:deploy:SpeculationService", "agenc:deploy:MonitoringStack"];
            for (const type of components) expect(engine.ofType(type), type).to.have.length(1);
        });
    });

    describe("production", () => {
        before(async () => { await engine.render(stackConfig("production")); });

        it("runs four proof workers and digest-pinned images", () => {
            const d = engine.byK8sName(DEPLOYMENT, "proof-workers").inputs;
            expect(d.spec.replicas).to.equal(4);
            expect(d.spec.template.spec.containers[0].image).to.match(/^ghcr\.io\/agenc\/proof-worker:v1\.2\.3@sha256:[0-9a-f]{64}$/);
            expect(engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs.spec.template.spec.containers[0].image).to.contain("@sha256:");
        });

        it("lives in agenc-production", () => {
            expect(engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs.metadata.namespace).to.equal("agenc-production");
        });
    });

    describe("canary stages", () => {
        it("declares one stage per step up to the target, each after the previous one", async () => {
            const outputs = await engine.render(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 25));
            const stages = engine.ofType("agenc:deploy:CanaryStage").map((s) => s.name);
            expect(stages).to.deep.equal(["stage-1-10pct", "stage-2-25pct"]);
            const shifts = engine.ofType("pulumi-nodejs:dynamic/agenc:TrafficShift");
            expect(shifts.map((s) => [s.inputs.percentage, s.inputs.previousPercentage])).to.deep.equal([[10, 0], [25, 10]]);
            expect(outputs.rolloutPercentage).to.equal(25);
        });

        it("gives every stage an error-rate baseline before its shift and a health gate after it, with the stage's thresholds", async () => {
            let config = withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 25);
            config = withEdit(config, "speculation:canary", "steps", [{ percentage: 10, bake: "4h" }, { percentage: 25, bake: "8h", thresholds: { maxRollbackRate: 0.03 } }, { percentage: 100, bake: "24h" }]);
            await engine.render(config);
            const gates = engine.ofType("pulumi-nodejs:dynamic/agenc:HealthGate");
            expect(gates.map((g) => [g.name, g.inputs.percentage, g.inputs.bakeSeconds, g.inputs.pollSeconds, g.inputs.deadlineSeconds])).to.deep.equal([
                ["stage-1-10pct-gate", 10, 14400, 60, 14400 + 600], ["stage-2-25pct-gate", 25, 28800, 60, 28800 + 600],
            ]);
            expect(gates[1].inputs.thresholds).to.include({ maxRollbackRate: 0.03, abortRollbackRate: 0.15, maxErrorRate: 0.01 });
            expect(gates[0].inputs).to.include({ onFailure: "revert", checkRolloutPercentage: true, source: "metrics-endpoint" });
            expect(gates[0].inputs.noData).to.deep.equal({
                rollbackRate: "fail", errorRate: "fail", errorRateVsBaseline: "fail", proofQueue: "fail", memoryPercent: "fail", latencyP99: "fail", latencyTailRatio: "fail",
            });
            // Every gate: latency limits from the table, critical alerts from Alertmanager, CUSUM at the default k and h.
            expect(gates[1].inputs.thresholds).to.include({ maxP99LatencySeconds: 1, abortP99LatencySeconds: 5, maxTailRatio: 2 });
            expect(gates[0].inputs.alerts).to.deep.equal({ alertmanagerUrl: "http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093" });
            expect(gates[0].inputs.cusum).to.deep.equal({ k: 0.5, h: 5, latencySigma: 0.1 });
            // A gate's revert goes to the deployment log (and the Pushgateway when set), like a release.
            expect(gates[0].inputs.records).to.include({ environment: "production", previousVersion: (config["speculation:release"] as { previousVersion: string }).previousVersion });
            expect(gates[0].inputs.records.logFile).to.match(/deployment-artifacts\/releases\/deployments\.log$/);
            const baselines = engine.ofType("pulumi-nodejs:dynamic/agenc:ErrorBaseline");
            expect(baselines.map((b) => b.name)).to.deep.equal(["stage-1-10pct-baseline", "stage-2-25pct-baseline"]);
            // The pre-shift health check judges with the stage's own thresholds and reads the same alerts.
            expect(baselines[1].inputs.thresholds).to.include({ maxRollbackRate: 0.03 });
            expect(baselines[1].inputs).to.deep.include({ percentage: 25, alerts: gates[0].inputs.alerts });
            const shifts = engine.ofType("pulumi-nodejs:dynamic/agenc:TrafficShift");
            expect(shifts[1].inputs.preShift).to.deep.include({ alerts: gates[0].inputs.alerts, windowSeconds: 60 });
        });

        it("runs the final bench before the first stage when bench.enabled, with the go/no-go limits", async () => {
            let config = withEdit(stackConfig("staging"), "speculation:bench", "enabled", true);
            config = withEdit(config, "speculation:bench", "command", "npm run -s reference -- bench");
            await engine.render(config);
            const [bench] = engine.ofType("pulumi-nodejs:dynamic/agenc:BenchRun");
            expect(bench.inputs.limits).to.deep.include({ maxP95BaselineMultiple: 1.1, maxTailRatio: 2, minThroughputPerSecond: 50000, repeats: 3, maxSpread: 0.25 });
            expect(bench.inputs.command).to.equal("npm run -s reference -- bench");
            expect(bench.inputs.resultsDir).to.match(/\/deployment-artifacts\/benchmarks$/);
            expect(bench.inputs.workingDir, "a relative bench command runs from the project folder").to.equal(process.cwd());
        });

        it("rolls the bare-metal nodes out with pinned host keys, the planned batches and the key as a secret", async () => {
            await engine.render(withNodes(stackConfig("staging"), 5, { serial: [1, "40%"] }), NODE_SECRET_KEYS);
            const [rollout] = engine.ofType("pulumi-nodejs:dynamic/agenc:SshRollout");
            expect(rollout.inputs.batches).to.deep.equal([1, 2, 2]);
            expect(rollout.inputs.nodes.map((n: { hostKey: string }) => n.hostKey)).to.deep.equal(Array(5).fill(TEST_HOST_KEY));
            expect(rollout.inputs).to.include({ installPath: "/opt/alys", restartCommand: "systemctl restart alys", healthCommand: "curl -sf http://localhost:8545/health", versionCommand: "/opt/alys/bin/alys --version" });
            expect(secretEnvelope(rollout.inputs.privateKey), "the key reaches the provider only as a secret").to.match(/BEGIN OPENSSH PRIVATE KEY/);
            expect(JSON.stringify(engine.one("agenc:deploy:NodeRollout", "alys-nodes").inputs)).to.not.include("PRIVATE KEY");
        });

        it("hands the acknowledged failed restores (nodes.clearRestoreFailed) to the node rollout, and none by default", async () => {
            await engine.render(withNodes(stackConfig("staging"), 3), NODE_SECRET_KEYS);
            expect(engine.ofType("pulumi-nodejs:dynamic/agenc:SshRollout")[0].inputs.clearRestoreFailed).to.deep.equal([]);
            await engine.render(withNodes(stackConfig("staging"), 3, { clearRestoreFailed: ["alys-2@20261128200000"] }), NODE_SECRET_KEYS);
            expect(engine.ofType("pulumi-nodejs:dynamic/agenc:SshRollout")[0].inputs.clearRestoreFailed).to.deep.equal(["alys-2@20261128200000"]);
        });

        it("runs the bench on a node over SSH when bench.onNode names one, with the key only as a secret", async () => {
            let config = withNodes(stackConfig("staging"), 1);
            config = withEdit(config, "speculation:bench", "enabled", true);
            config = withEdit(config, "speculation:bench", "command", "./bench.sh");
            config = withEdit(config, "speculation:bench", "onNode", "alys-1");
            await engine.render(config, NODE_SECRET_KEYS);
            const [bench] = engine.ofType("pulumi-nodejs:dynamic/agenc:BenchRun");
            const remote = secretEnvelope(bench.inputs.remote) as { node: { name: string; hostKey: string }; privateKey: string };
            expect(remote.node).to.include({ name: "alys-1", hostKey: TEST_HOST_KEY });
            expect(remote.privateKey).to.match(/BEGIN OPENSSH PRIVATE KEY/);
        });

        it("in ingress-weight mode gives the top stage a weighted canary ingress and keeps stable on the known-good version", async () => {
            let config = withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 50);
            config = withEdit(config, "speculation:canary", "shiftMode", "ingress-weight");
            await engine.render(config);
            const canary = engine.byK8sName("kubernetes:networking.k8s.io/v1:Ingress", "agenc-speculation-canary");
            expect(canary.inputs.metadata.annotations).to.deep.equal({
                "nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "50", "pulumi.com/skipAwait": "true",
                // The watchdog may have set the weight to 0: the next `pulumi up` takes it back (server-side apply, forced).
                "pulumi.com/patchForce": "true",
            });
            expect(engine.byK8sName(DEPLOYMENT, "agenc-speculation-canary").inputs.spec.template.spec.containers[0].image).to.equal("ghcr.io/agenc/speculation:v1.2.3");
            expect(engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs.spec.template.spec.containers[0].image).to.equal("ghcr.io/agenc/speculation:v1.2.2");
            expect(engine.ofType("pulumi-nodejs:dynamic/agenc:TrafficShift")).to.have.length(0);
            // Each stage past the first raises an existing canary's weight: its pre-shift check reads the canary too.
            const baselines = engine.ofType("pulumi-nodejs:dynamic/agenc:ErrorBaseline").map((b) => [b.inputs.stage, b.inputs.raisedTrackUrl]);
            expect(baselines[0]).to.deep.equal(["stage-1-10pct", undefined]);
            expect(baselines.length).to.be.greaterThan(1);
            for (const [, url] of baselines.slice(1)) expect(url).to.equal("http://agenc-speculation-canary.agenc-staging.svc.cluster.local:9090");
        });

        it("in blue-green mode the switch to green is preceded by a health check of green itself, not only of blue", async () => {
            let config = withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 100);
            config = withEdit(config, "speculation:canary", "shiftMode", "blue-green");
            await engine.render(config);
            const baselines = engine.ofType("pulumi-nodejs:dynamic/agenc:ErrorBaseline").map((b) => [b.inputs.stage, b.inputs.raisedTrackUrl]);
            // Below 100 % green gets no traffic (hold): nothing is raised.  At 100 % the switch hands green everything.
            expect(baselines.slice(0, -1).every(([, url]) => url === undefined), JSON.stringify(baselines)).to.equal(true);
            expect(baselines[baselines.length - 1]).to.deep.equal(["stage-3-100pct", "http://agenc-speculation-green.agenc-staging.svc.cluster.local:9090"]);
        });

        it("the new track's Deployment is built like stable's: a config edit rolls its pods, it spreads across nodes, a rollout keeps every replica", async () => {
            for (const [mode, name] of [["ingress-weight", "agenc-speculation-canary"], ["blue-green", "agenc-speculation-green"]] as const) {
                const base = withEdit(withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 100), "speculation:canary", "shiftMode", mode);
                await engine.render(base);
                const before = engine.byK8sName(DEPLOYMENT, name).inputs.spec;
                const stable = engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs.spec;
                expect(before.template.spec.topologySpreadConstraints, `${name} spreads as stable does`).to.deep.equal(
                    stable.template.spec.topologySpreadConstraints.map((c: any) => ({ ...c, labelSelector: { matchLabels: { app: name } } })));
                expect(before.strategy).to.deep.equal({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
                expect(before.template.spec.containers[0]).to.deep.equal({ ...stable.template.spec.containers[0], image: before.template.spec.containers[0].image });
                await engine.render(withEdit(base, "speculation:service", "maxDepth", 3));
                const after = engine.byK8sName(DEPLOYMENT, name).inputs.spec;
                expect(after.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION], `a config edit rolls ${name}'s pods`)
                    .to.not.equal(before.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION]);
            }
        });

        it("in ingress-weight mode the canary grows with its weight: one pod at 10 %, two of production's three at 50 %, all at 100 %", async () => {
            const podsAt = async (percentage: number) => {
                let config = withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, percentage);
                config = withEdit(config, "speculation:canary", "shiftMode", "ingress-weight");
                config = withEdit(config, "speculation:release", "images.speculation.previousDigest", `sha256:${"b".repeat(64)}`);
                await engine.render(config);
                return engine.byK8sName(DEPLOYMENT, "agenc-speculation-canary").inputs.spec.replicas;
            };
            expect([await podsAt(10), await podsAt(50), await podsAt(100)]).to.deep.equal([1, 2, 3]);
            expect(engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs.spec.replicas, "production's stable pods").to.equal(3);
        });

        it("in ingress-weight mode a failed gate reverts the canary's weight through the watchdog, whose account may patch only that Ingress", async () => {
            let config = withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 10);
            config = withEdit(config, "speculation:canary", "shiftMode", "ingress-weight");
            await engine.render(config);
            // Without a way to reach the watchdog the gate cannot lower the weight: it fails the update, and says so.
            const [failing] = engine.ofType("pulumi-nodejs:dynamic/agenc:HealthGate");
            expect(failing.inputs.onFailure).to.equal("fail");
            expect(failing.inputs.leftAs).to.match(/the canary keeps its weight\. The gate cannot reach it \(ingress-weight mode without canary\.gate\.revert\.watchdogActionUrl\)/);
            const watchdog = engine.byK8sName(DEPLOYMENT, "speculation-watchdog").inputs.spec.template.spec;
            expect(watchdog.containers[0].env).to.deep.include({ name: "CANARY_INGRESS", value: "agenc-speculation-canary" });
            expect([watchdog.serviceAccountName, watchdog.automountServiceAccountToken]).to.deep.equal(["speculation-watchdog", true]);
            expect(engine.byK8sName("kubernetes:rbac.authorization.k8s.io/v1:Role", "speculation-watchdog").inputs.rules).to.deep.equal([
                { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], resourceNames: ["agenc-speculation-canary"], verbs: ["get", "patch"] },
            ]);

            await engine.render(withEdit(config, "speculation:canary", "gate.revert.watchdogActionUrl", "http://127.0.0.1:9095/alerts"));
            const [gate] = engine.ofType("pulumi-nodejs:dynamic/agenc:HealthGate");
            expect(gate.inputs.onFailure).to.equal("revert");
            expect(gate.inputs.revert).to.include({ target: "canary-weight", watchdogActionUrl: "http://127.0.0.1:9095/alerts" });
            expect(gate.inputs).to.not.have.property("leftAs");

            // Feature-flag mode: no account, no token in the watchdog's pods.
            await engine.render(stackConfig("staging"));
            expect(engine.byK8sName(DEPLOYMENT, "speculation-watchdog").inputs.spec.template.spec.automountServiceAccountToken).to.equal(false);
            expect(engine.ofType("kubernetes:rbac.authorization.k8s.io/v1:Role")).to.have.length(0);
        });

        it("changes the config checksum when the speculation config changes", async () => {
            await engine.render(stackConfig("staging"));
            const before = engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs.spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION];
            await engine.render(withEdit(stackConfig("staging"), "speculation:service", "maxDepth", 3));
            const after = engine.byK8sName(DEPLOYMENT, "agenc-speculation").inputs.spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION];
            expect(after).to.not.equal(before);
        });
    });

    describe("standalone monitoring", () => {
        it("deploys Prometheus, Alertmanager and Grafana and scrapes by annotation", async () => {
            await engine.render(withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone"));
            for (const app of ["prometheus", "alertmanager", "grafana"]) expect(engine.byK8sName(DEPLOYMENT, app)).to.not.equal(undefined);
            expect(engine.ofType(CUSTOM("PrometheusRule"))).to.have.length(0);
            expect(engine.byK8sName(DEPLOYMENT, "proof-workers").inputs.spec.template.metadata.annotations["prometheus.io/port"]).to.equal("9091");
        });

        it("keeps receiver secrets out of every config and marks the Secret secret", async () => {
            const config = withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone");
            config["speculation:alertReceivers"] = { slackWebhookUrl: "https://hooks.slack.example/T000/B000/SECRETVALUE" };
            await engine.render(config, ["speculation:alertReceivers"]);
            const plain = JSON.stringify(engine.ofType(CONFIGMAP).map((c) => c.inputs));
            expect(plain).to.not.contain("SECRETVALUE");
            expect(engine.byK8sName(CONFIGMAP, "alertmanager-config").inputs.data["alertmanager.yml"]).to.contain("api_url_file");
            const receivers = engine.byK8sName(SECRET, "agenc-alert-receivers").inputs.stringData;
            expect(secretEnvelope(receivers)).to.deep.equal({ "slack-webhook-url": "https://hooks.slack.example/T000/B000/SECRETVALUE" });
        });
    });

    describe("static scrape targets: the deployment records' Pushgateway and the bare-metal nodes", () => {
        const PUSHGATEWAY = "http://prometheus-pushgateway.monitoring.svc.cluster.local:9091";
        const withPushgateway = (mode: string) =>
            withEdit(withEdit(withNodes(stackConfig("staging"), 2), "speculation:records", "pushgatewayUrl", PUSHGATEWAY), "speculation:monitoring", "mode", mode);

        it("operator mode: a ScrapeConfig per static job, selected by the release label; the Pushgateway's keeps its series' labels", async () => {
            await engine.render(withPushgateway("operator"), NODE_SECRET_KEYS);
            const scrapes = engine.ofType(CUSTOM("ScrapeConfig"));
            expect(scrapes.map((r) => r.inputs.metadata.name).sort()).to.deep.equal(
                ["alys-actors", "alys-consensus", "alys-governance", "alys-lighthouse", "alys-metrics", "pushgateway"]);
            const pg = scrapes.find((r) => r.inputs.metadata.name === "pushgateway")!;
            expect(pg.inputs.metadata.labels.release).to.equal("kube-prometheus-stack");
            expect(pg.inputs.spec).to.deep.include({ honorLabels: true, staticConfigs: [{ targets: ["prometheus-pushgateway.monitoring.svc.cluster.local:9091"], labels: { job: "pushgateway" } }] });
            expect(scrapes.find((r) => r.inputs.metadata.name === "alys-consensus")!.inputs.spec.honorLabels, "a node's own labels do not win").to.equal(undefined);
        });

        describe("an authenticated Pushgateway (speculation:pushgatewayCredentials, a secret)", () => {
            const CREDS = "speculation:pushgatewayCredentials";
            const PASSWORD = "pg-SECRETVALUE-0123";
            // At 10 %: a stage, so its baseline and gate exist (each pushes).
            const withCredentials = (mode: string) => ({ ...withEdit(withPushgateway(mode), "speculation:rolloutPercentage", undefined, 10), [CREDS]: { username: "pusher", password: PASSWORD } });
            /** Every input of every resource with the secret envelopes left out: what a plain (unencrypted) input holds. */
            const plainInputs = () => JSON.stringify(engine.resources.map((r) => r.inputs), (_k, v) => (secretEnvelope(v) !== undefined ? "[secret]" : v));

            it("the push steps take the credentials as a secret input; the ScrapeConfig refers to the Secret's keys (operator mode)", async () => {
                await engine.render(withCredentials("operator"), [...NODE_SECRET_KEYS, CREDS]);
                for (const type of ["HealthGate", "ErrorBaseline", "DeploymentRecord"]) {
                    const steps = engine.ofType(`pulumi-nodejs:dynamic/agenc:${type}`);
                    expect(steps.length, type).to.be.greaterThan(0);
                    for (const step of steps) expect(secretEnvelope(step.inputs.pushgatewayAuth), `${type} ${step.name}`).to.deep.equal({ username: "pusher", password: PASSWORD });
                }
                const secret = engine.byK8sName(SECRET, "agenc-pushgateway-auth");
                expect(secretEnvelope(secret.inputs.stringData)).to.deep.equal({ username: "pusher", password: PASSWORD });
                const pg = engine.ofType(CUSTOM("ScrapeConfig")).find((r) => r.inputs.metadata.name === "pushgateway")!;
                expect(pg.inputs.spec.basicAuth).to.deep.equal({
                    username: { name: "agenc-pushgateway-auth", key: "username" }, password: { name: "agenc-pushgateway-auth", key: "password" },
                });
                expect(engine.ofType(CUSTOM("ScrapeConfig")).find((r) => r.inputs.metadata.name === "alys-consensus")!.inputs.spec.basicAuth, "only the Pushgateway's job").to.equal(undefined);
                expect(plainInputs()).to.not.contain(PASSWORD);
            });

            it("standalone: basic_auth from files of the Secret mounted into Prometheus, never the values in prometheus.yml", async () => {
                await engine.render(withCredentials("standalone"), [...NODE_SECRET_KEYS, CREDS]);
                const yml = parse(engine.byK8sName(CONFIGMAP, "prometheus-config").inputs.data["prometheus.yml"]) as { scrape_configs: { job_name: string; basic_auth?: unknown }[] };
                expect(yml.scrape_configs.find((j) => j.job_name === "pushgateway")!.basic_auth).to.deep.equal({
                    username_file: "/etc/prometheus/secrets/pushgateway-username", password_file: "/etc/prometheus/secrets/pushgateway-password",
                });
                expect(yml.scrape_configs.filter((j) => j.basic_auth).map((j) => j.job_name)).to.deep.equal(["pushgateway"]);
                const pod = engine.byK8sName(DEPLOYMENT, "prometheus").inputs.spec.template.spec;
                expect(pod.volumes.find((v: { name: string }) => v.name === "secrets")).to.deep.equal({ name: "secrets", secret: { secretName: "agenc-pushgateway-auth", items: [
                    { key: "username", path: "pushgateway-username" }, { key: "password", path: "pushgateway-password" }] } });
                expect(pod.containers[0].volumeMounts).to.deep.include({ name: "secrets", mountPath: "/etc/prometheus/secrets", readOnly: true });
                expect(secretEnvelope(engine.byK8sName(SECRET, "agenc-pushgateway-auth").inputs.stringData)).to.deep.equal({ username: "pusher", password: PASSWORD });
                expect(plainInputs()).to.not.contain(PASSWORD);
            });

            it("without credentials: no Secret, no basicAuth, and no pushgatewayAuth input", async () => {
                await engine.render(withPushgateway("operator"), NODE_SECRET_KEYS);
                expect(engine.ofType(SECRET).map((s) => s.inputs.metadata.name)).to.not.include("agenc-pushgateway-auth");
                expect(engine.ofType(CUSTOM("ScrapeConfig")).find((r) => r.inputs.metadata.name === "pushgateway")!.inputs.spec.basicAuth).to.equal(undefined);
                expect(engine.ofType("pulumi-nodejs:dynamic/agenc:DeploymentRecord")[0].inputs.pushgatewayAuth).to.equal(undefined);
            });
        });

        it("standalone mode: the Pushgateway job with honor_labels in prometheus.yml; without records.pushgatewayUrl, no such job", async () => {
            await engine.render(withPushgateway("standalone"), NODE_SECRET_KEYS);
            const yml = parse(engine.byK8sName(CONFIGMAP, "prometheus-config").inputs.data["prometheus.yml"]) as { scrape_configs: { job_name: string; honor_labels?: boolean; static_configs?: { targets: string[] }[] }[] };
            const pg = yml.scrape_configs.find((j) => j.job_name === "pushgateway");
            expect(pg).to.deep.equal({ job_name: "pushgateway", honor_labels: true, static_configs: [{ targets: ["prometheus-pushgateway.monitoring.svc.cluster.local:9091"] }] });
            await engine.render(withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone"));
            const without = parse(engine.byK8sName(CONFIGMAP, "prometheus-config").inputs.data["prometheus.yml"]) as { scrape_configs: { job_name: string }[] };
            expect(without.scrape_configs.map((j) => j.job_name)).to.not.include("pushgateway");
        });
    });

    describe("Pod Security restricted", () => {
        for (const stack of ["staging", "production"] as const) {
            for (const mode of MONITORING_MODES) {
                for (const shift of SHIFT_MODES) {
                    it(`${stack}, ${mode} monitoring, ${shift}: every workload passes restricted with a read-only root filesystem`, async () => {
                        let config = withEdit(stackConfig(stack), "speculation:monitoring", "mode", mode);
                        config = withEdit(config, "speculation:canary", "shiftMode", shift);
                        if (stack === "production" && shift !== "feature-flag") config = withEdit(config, "speculation:release", "images.speculation.previousDigest", `sha256:${"0".repeat(64)}`);
                        await engine.render(withEdit(config, "speculation:rolloutPercentage", undefined, 10));
                        const deployments = engine.ofType(DEPLOYMENT);
                        expect(deployments.length).to.be.greaterThan(1);
                        for (const d of deployments) {
                            const pod = d.inputs.spec.template.spec;
                            expect(restrictedViolations(pod), d.inputs.metadata.name).to.deep.equal([]);
                            for (const c of pod.containers) {
                                expect(c.volumeMounts.map((m: any) => m.mountPath), `${d.inputs.metadata.name} writable /tmp`).to.include("/tmp");
                            }
                        }
                    });
                }
            }
        }

        it("gives Prometheus and Alertmanager persistent volumes for their evidence, Grafana emptyDirs, and runs each as a user of at least 10000", async () => {
            await engine.render(withEdit(withEdit(withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone"),
                "speculation:monitoring", "storage.storageClassName", "fast-ssd"), "speculation:monitoring", "retention", "30d"));
            const writable = (app: string, kind: "emptyDir" | "persistentVolumeClaim" = "emptyDir") => {
                const pod = engine.byK8sName(DEPLOYMENT, app).inputs.spec.template.spec;
                const empty = pod.volumes.filter((v: any) => v[kind]).map((v: any) => v.name);
                return { uid: pod.securityContext.runAsUser, dirs: pod.containers[0].volumeMounts.filter((m: any) => empty.includes(m.name)).map((m: any) => m.mountPath) };
            };
            expect(writable("prometheus")).to.deep.equal({ uid: 65534, dirs: ["/tmp"] });
            expect(writable("prometheus", "persistentVolumeClaim")).to.deep.equal({ uid: 65534, dirs: ["/prometheus"] });
            expect(writable("alertmanager")).to.deep.equal({ uid: 65534, dirs: ["/tmp"] });
            expect(writable("alertmanager", "persistentVolumeClaim")).to.deep.equal({ uid: 65534, dirs: ["/alertmanager"] });
            const claims = engine.ofType("kubernetes:core/v1:PersistentVolumeClaim").map((c) => c.inputs);
            expect(claims.map((c: any) => [c.metadata.name, c.spec.resources.requests.storage, c.spec.storageClassName, c.spec.accessModes[0]])).to.deep.equal([
                ["prometheus-data", "50Gi", "fast-ssd", "ReadWriteOnce"], ["alertmanager-data", "1Gi", "fast-ssd", "ReadWriteOnce"]]);
            const prometheus = engine.byK8sName(DEPLOYMENT, "prometheus").inputs.spec;
            expect(prometheus.strategy, "a ReadWriteOnce volume: the old pod lets go before the new one mounts it").to.deep.equal({ type: "Recreate" });
            expect(prometheus.template.spec.containers[0].args).to.include("--storage.tsdb.retention.time=30d");
            expect(writable("grafana")).to.deep.equal({ uid: 65532, dirs: ["/tmp", "/var/lib/grafana", "/var/log/grafana"] });
        });

        it("labels the namespace with the configured enforce level, warning and auditing at restricted", async () => {
            await engine.render(stackConfig("production"));
            expect(engine.one("kubernetes:core/v1:Namespace", "namespace").inputs.metadata.labels).to.include({
                "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted",
            });
            await engine.render(withEdit(stackConfig("staging"), "speculation:kubernetes", "podSecurity", "baseline"));
            expect(engine.one("kubernetes:core/v1:Namespace", "namespace").inputs.metadata.labels).to.include({
                "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted",
            });
        });
    });
});
