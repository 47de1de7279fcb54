/**
 * The watchdog's Kubernetes objects and the window-mode stage chain, as the program registers them (mocks).  The
 * same objects are applied to a real API server in test/k8s when the control-plane harness runs.
 */
import { expect } from "chai";
import { parse } from "yaml";
import { watchdogBundle } from "../../lib/watchdog/bundle";
import { GO_NO_GO } from "../../config/thresholds";
import { sentinelSchedule } from "../../lib/watchdog/sentinel";
import { encodeConfig, MockEngine, stackConfig, withEdit } from "../helpers/stack";
import { parseStackConfig } from "../../config";
import { formatBound } from "../../lib/guard/bound";
import { guardPlan } from "../../lib/guard/plan";
import { ROLLBACK_TRIGGER_ALERTS } from "../../lib/monitoring/rules";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";


describe("the watchdog and window bake mode under mocks", () => {
    const engine = new MockEngine();

    describe("staging, standalone monitoring", () => {
        before(async () => { await engine.render(withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone")); });

        it("runs the revert script from a ConfigMap in a stock image pinned by digest, the token only from the Secret, as a restricted pod", () => {
            const d = engine.byK8sName(DEPLOYMENT, "speculation-watchdog").inputs;
            const pod = d.spec.template.spec;
            const c = pod.containers[0];
            expect(c.image).to.match(/^docker\.io\/library\/node:22-alpine@sha256:[0-9a-f]{64}$/);
            expect(c.command).to.deep.equal(["node", "/etc/watchdog/watchdog.js"]);
            expect(c.env).to.deep.include({ name: "ADMIN_TOKEN", valueFrom: { secretKeyRef: { name: "agenc-speculation-secrets", key: "ADMIN_TOKEN" } } });
            expect(c.env).to.deep.include({ name: "SERVICE_URL", value: "http://agenc-speculation.agenc-staging.svc.cluster.local:9090" });
            expect(JSON.stringify(c.env)).to.not.match(/mock-admin-token/);
            expect(pod.securityContext).to.include({ runAsNonRoot: true });
            expect(c.securityContext).to.deep.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
            const cm = engine.byK8sName(CONFIGMAP, "speculation-watchdog").inputs;
            // One file: lib/watchdog/main.ts bundled with what it imports (the sentinel probe, the admin API, the
            // schedule), requiring nothing but Node's own modules (a missing file would crash the pod at start).
            expect(Object.keys(cm.data)).to.deep.equal(["watchdog.js"]);
            expect(cm.data["watchdog.js"]).to.equal(watchdogBundle());
            const required = [...cm.data["watchdog.js"].matchAll(/require\("([^"]+)"\)/g)].map((m: RegExpMatchArray) => m[1]);
            expect([...new Set(required)].sort()).to.deep.equal(["fs", "http", "https"]);
            expect(cm.data["watchdog.js"]).to.contain("syntheticSpeculation").and.to.contain("/admin/test/speculation");
            expect(pod.volumes[0].configMap.name).to.equal("speculation-watchdog");
        });

        it("its Service selects its pods, and its pods carry the network role the admin port admits", () => {
            const d = engine.byK8sName(DEPLOYMENT, "speculation-watchdog").inputs;
            const svc = engine.byK8sName(SERVICE, "speculation-watchdog").inputs;
            for (const [k, v] of Object.entries(svc.spec.selector)) expect(d.spec.template.metadata.labels[k]).to.equal(v);
            expect(svc.spec.ports[0]).to.include({ name: "metrics", port: 9095 });
            const admin = engine.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").find((p) => p.inputs.metadata.name === "agenc-speculation-admin");
            expect(admin, "no admin NetworkPolicy").to.not.equal(undefined);
            const froms = JSON.stringify(admin!.inputs.spec.ingress);
            const role = Object.entries(d.spec.template.metadata.labels).find(([k]) => k.includes("network-role"));
            expect(role, "the watchdog pod has no network role").to.not.equal(undefined);
            expect(froms).to.include(`"${role![0]}":"${role![1]}"`);
        });

        it("Alertmanager sends every kill-switch alert and every other rollback trigger to the watchdog first (continue: the page follows), and Prometheus scrapes it", () => {
            const am = parse(engine.byK8sName(CONFIGMAP, "alertmanager-config").inputs.data["alertmanager.yml"]);
            expect(am.route.routes[0]).to.deep.include({ receiver: "speculation-watchdog", matchers: ['kill_switch="true"'], continue: true });
            expect(am.route.routes[1]).to.deep.include({ receiver: "speculation-watchdog", matchers: ['rollback_trigger="true"', 'kill_switch!="true"'], continue: true });
            const receiver = am.receivers.find((r: { name: string }) => r.name === "speculation-watchdog");
            expect(receiver.webhook_configs[0].url).to.equal("http://speculation-watchdog.agenc-staging.svc.cluster.local:9095/alerts");
            const prom = parse(engine.byK8sName(CONFIGMAP, "prometheus-config").inputs.data["prometheus.yml"]);
            expect(prom.scrape_configs.map((j: { job_name: string }) => j.job_name)).to.include("speculation-watchdog");
        });
    });

    describe("sentinel probes: only once the plan has reached 100 %", () => {
        const envOf = () => Object.fromEntries((engine.byK8sName(DEPLOYMENT, "speculation-watchdog").inputs.spec.template.spec.containers[0].env as { name: string; value?: string }[])
            .filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
        const sentinelRule = () => {
            const rules = engine.ofType("kubernetes:monitoring.coreos.com/v1:PrometheusRule")[0].inputs.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
            return rules.find((r: { alert?: string }) => r.alert === "SpeculationSentinelFailing");
        };

        it("below 100 % the watchdog does not probe (the stages' gates judge), but the rule and the kill-switch route are in place", async () => {
            const outputs = await engine.render({ ...stackConfig("production"), "speculation:rolloutPercentage": 50 });
            expect((outputs as { sentinels?: string }).sentinels).to.equal("off: the plan is at 50 %, below 100 %: the stages' gates judge it");
            expect(envOf()).to.include({ SENTINEL_INTERVAL_SECONDS: "0" });
            expect(envOf()).to.not.have.property("SENTINEL_TIMEOUT_MS");
            expect(sentinelRule().labels).to.deep.equal({ severity: "critical", component: "sentinel", kill_switch: "true" });
        });

        it("at 100 % it probes at watchdog.sentinel.interval, and the rule judges over watchdog.sentinel.window with its minProbes", async () => {
            let config: Record<string, unknown> = { ...stackConfig("production"), "speculation:rolloutPercentage": 100 };
            config = withEdit(config, "speculation:watchdog", "sentinel.interval", "30s");
            config = withEdit(config, "speculation:watchdog", "sentinel.window", "2h");
            config = withEdit(config, "speculation:watchdog", "sentinel.minProbes", 40);
            const outputs = await engine.render(config);
            expect((outputs as { sentinels?: string }).sentinels).to.equal("probing every 30s; below 95 % success over 2h (at least 40 probes) SpeculationSentinelFailing pulls the kill switch");
            expect(envOf()).to.include({ SENTINEL_INTERVAL_SECONDS: "30", SENTINEL_TIMEOUT_MS: "10000" });
            expect(sentinelRule().expr).to.contain("[120m]").and.to.contain(">= 40").and.to.contain(`< ${GO_NO_GO.sentinelProbeSuccess}`);
        });

        it("at 100 % with watchdog.sentinel.enabled false (staging: production refuses it in window mode), or during a rollback, it does not probe", async () => {
            await engine.render(withEdit({ ...stackConfig("staging"), "speculation:rolloutPercentage": 100 }, "speculation:watchdog", "sentinel.enabled", false));
            expect(envOf()).to.include({ SENTINEL_INTERVAL_SECONDS: "0" });
            expect(sentinelSchedule({ sentinel: { enabled: true, interval: "1m", timeout: "10s" }, topPercentage: 100, speculationEnabled: true, rollbackMode: "full" }))
                .to.deep.equal({ off: "rollback.mode is full: speculation stays off" });
            expect(sentinelSchedule({ sentinel: { enabled: true, interval: "1m", timeout: "10s" }, topPercentage: 100, speculationEnabled: true, rollbackMode: "none" }))
                .to.deep.equal({ schedule: { intervalSeconds: 60, timeoutMs: 10_000 } });
        });
    });

    describe("production (window bake mode by default, operator monitoring) at 25 %", () => {
        before(async () => { await engine.render({ ...stackConfig("production"), "speculation:rolloutPercentage": 25 }); });

        it("routes rollback triggers to the watchdog in the AlertmanagerConfig and selects it with a ServiceMonitor", () => {
            const amc = engine.ofType("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig")[0].inputs.spec;
            expect(amc.route.routes[0]).to.deep.include({ receiver: "speculation-watchdog", continue: true, matchers: [{ name: "kill_switch", value: "true", matchType: "=" }] });
            expect(amc.route.routes[1]).to.deep.include({
                receiver: "speculation-watchdog", continue: true,
                matchers: [{ name: "rollback_trigger", value: "true", matchType: "=" }, { name: "kill_switch", value: "true", matchType: "!=" }],
            });
            expect(amc.receivers.find((r: { name: string }) => r.name === "speculation-watchdog").webhookConfigs[0].url)
                .to.equal("http://speculation-watchdog.agenc-production.svc.cluster.local:9095/alerts");
            const sm = engine.ofType("kubernetes:monitoring.coreos.com/v1:ServiceMonitor").find((r) => r.inputs.metadata.name === "speculation-watchdog");
            expect(sm!.inputs.spec.selector.matchLabels).to.deep.equal(engine.byK8sName(SERVICE, "speculation-watchdog").inputs.spec.selector);
        });

        it("stage 1's gate runs a 5 min entry analysis of a 4 h bake, and stage 2 waits for stage 1's whole bake window", () => {
            const gate = engine.one("pulumi-nodejs:dynamic/agenc:HealthGate", "stage-1-10pct-gate");
            expect(gate.inputs).to.include({ bakeMode: "window", entrySeconds: 300, bakeSeconds: 14400 });
            const window = engine.one("pulumi-nodejs:dynamic/agenc:BakeWindow", "stage-1-10pct-window");
            expect(window.inputs).to.include({ bakeSeconds: 14400, stepSeconds: 15, prometheusUrl: "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090" });
            expect(window.dependencies).to.include(gate.urn);
            const baseline2 = engine.one("pulumi-nodejs:dynamic/agenc:ErrorBaseline", "stage-2-25pct-baseline");
            expect(baseline2.dependencies, "stage 2 does not wait for stage 1's window").to.include(window.urn);
            expect(engine.ofType("pulumi-nodejs:dynamic/agenc:BakeWindow").map((r) => r.name), "the top stage has no window yet").to.deep.equal(["stage-1-10pct-window"]);
            expect(window.inputs.compare, "one track (feature-flag): nothing to compare").to.equal(undefined);
        });

        it("ingress-weight: the bake window also judges the canary against stable over the whole bake, with the judge's settings", async () => {
            let config = withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 25);
            config = withEdit(config, "speculation:canary", "shiftMode", "ingress-weight");
            config = withEdit(config, "speculation:release", "images.speculation.previousDigest", `sha256:${"b".repeat(64)}`);
            await engine.render(config);
            const window = engine.one("pulumi-nodejs:dynamic/agenc:BakeWindow", "stage-1-10pct-window");
            expect(window.inputs.compare).to.deep.equal({ errorRateMargin: 0.005, latencyMargin: 0.1, confidence: 0.95, minRequests: 500 });
        });
    });
    describe("the watchdog's schedule and its Prometheus come from the guard plan (lib/guard/plan.ts), and the bound is a stack output", () => {
        const envOf = () => Object.fromEntries((engine.byK8sName(DEPLOYMENT, "speculation-watchdog").inputs.spec.template.spec.containers[0].env as { name: string; value?: string }[])
            .filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));

        it("renders ADMIN_API_TIMEOUT_MS, ATTEMPT_TIMEOUT_MS, POLL_INTERVAL_SECONDS, POLL_TIMEOUT_MS and REVERT_DEADLINE_SECONDS from the plan, and PROMETHEUS_URL (operator: watchdog.prometheusUrl)", async () => {
            let config = stackConfig("staging");
            for (const [k, v] of [["pollInterval", "7s"], ["attemptTimeout", "3s"], ["adminApiTimeout", "12s"], ["revertDeadline", "3m"]]) config = withEdit(config, "speculation:watchdog", k, v);
            await engine.render(config);
            const plan = guardPlan(parseStackConfig(encodeConfig(config)).config);
            expect(envOf()).to.include({
                ADMIN_API_TIMEOUT_MS: "12000", ATTEMPT_TIMEOUT_MS: "3000", POLL_INTERVAL_SECONDS: "7", POLL_TIMEOUT_MS: "5000", REVERT_DEADLINE_SECONDS: "180",
                BACKOFF_INITIAL_MS: "250", BACKOFF_MAX_MS: "5000",
                PROMETHEUS_URL: "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090",
            });
            // The same numbers the bound was computed from, not a second reading of the config.
            const w = plan.watchdog;
            expect(envOf()).to.include({
                ADMIN_API_TIMEOUT_MS: String(w.adminApiTimeoutMs), ATTEMPT_TIMEOUT_MS: String(w.attemptTimeoutMs), POLL_INTERVAL_SECONDS: String(w.pollIntervalSeconds),
                POLL_TIMEOUT_MS: String(w.pollTimeoutMs), REVERT_DEADLINE_SECONDS: String(w.revertDeadlineSeconds),
            });
            expect(plan.timings.attempts.adminApiTimeoutSeconds).to.equal(12);
            expect(plan.timings.pollIntervalSeconds).to.equal(7);
        });

        it("standalone: PROMETHEUS_URL is the stack's own Prometheus, polled every evaluation interval by default; production: the gates' Prometheus", async () => {
            const standalone = withEdit(withEdit(stackConfig("staging"), "speculation:watchdog", undefined, undefined), "speculation:monitoring", "mode", "standalone");
            await engine.render(withEdit(standalone, "speculation:monitoring", "evaluationInterval", "20s"));
            expect(envOf()).to.include({ PROMETHEUS_URL: "http://prometheus.agenc-staging.svc.cluster.local:9090", POLL_INTERVAL_SECONDS: "20", POLL_TIMEOUT_MS: "5000" });
            await engine.render(stackConfig("production"));
            expect(envOf()).to.include({ PROMETHEUS_URL: "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090", POLL_INTERVAL_SECONDS: "15", ADMIN_API_TIMEOUT_MS: "10000" });
        });

        it("the stack output `guard` (and the Guard's recorded inputs, what preview and the policy pack see) carries the bound per rollback trigger, the worst, the formula and the limit", async () => {
            const outputs = await engine.render(stackConfig("production")) as unknown as { guard: Record<string, any> };
            const plan = guardPlan(parseStackConfig(encodeConfig(stackConfig("production"))).config);
            const guard = outputs.guard;
            expect(Object.keys(guard.triggers).sort()).to.deep.equal([...ROLLBACK_TRIGGER_ALERTS].sort());
            for (const t of plan.triggers) expect(guard.triggers[t.alert], t.alert).to.equal(formatBound(t.seconds));
            expect(guard.triggers.SpeculationRollbackRateAbort).to.equal("6m 51s");
            expect(guard).to.include({ boundSeconds: 410.75, bound: "6m 51s", worstTrigger: "SpeculationRollbackRateAbort", maxBoundSeconds: 420, maxBound: "7m" });
            expect(guard.formula).to.match(/^scrape \(interval \+ timeout\) 25s \+ recording rule evaluation 15s \+ .* \+ revert and read-back \(attempt schedule\) 35\.75s$/);
            expect(guard.floor).to.deep.equal({ enabled: true, sentinels: true, replicas: 2, driftDetection: "cusum", onFailure: "revert", bakeMode: "window", errorBaseline: true });
            const recorded = engine.ofType("agenc:deploy:Guard")[0].inputs;
            expect(recorded).to.deep.include({ environment: "production", boundSeconds: 410.75, maxBoundSeconds: 420, triggers: guard.triggers });
        });
    });
});
