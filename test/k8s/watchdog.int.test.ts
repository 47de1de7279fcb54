/**
 * The watchdog on a real control plane: its objects, as the program registers them, are accepted (strict field
 * validation, Pod Security restricted), its Deployment becomes Available behind its Service, the ServiceMonitor
 * (operator mode) selects it, the token comes from a Secret that exists, and the NetworkPolicies admit it to the
 * admin port and admit Alertmanager and Prometheus to it.  At 100 % its pods carry the sentinel probes' schedule, and
 * the kill-switch route and rule pass the prometheus-operator CRDs' validation.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { PATCH_FORCE } from "../../components/CanaryStage";
import { WATCHDOG_SCRIPT } from "../../reference/localMonitoring";
import { revertTraffic } from "../../lib/revert/revert";
import { freePort } from "../../reference/ports";
import { startSpeculationService } from "../../reference/speculationService";
import { ADMIN_TOKEN } from "../helpers/reference";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import { Cluster, danglingReferences, documents, FIELD_MANAGER, inNamespace, K8sObject, podsSelected, programObjects, readyAddresses, selects, serviceMonitorTargets, settled } from "../helpers/kube";
import { eventually } from "../helpers/wait";
import { stackConfig, withEdit } from "../helpers/stack";

describe("the watchdog on a real control plane (issue 11)", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;

    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the control plane's binaries
        cp = await controlPlane();
    });

    it("production (operator monitoring): Available, selected by its Service and ServiceMonitor, admitted to the admin port", async () => {
        const namespace = "watchdog-production";
        const config = withEdit(stackConfig("production"), "speculation:hardening", "networkPolicies.gateCidrs", ["192.0.2.0/24"]);
        const objects = inNamespace(await programObjects({ ...config, "speculation:rolloutPercentage": 25 }), "agenc-production", namespace);
        const result = await new Cluster(cp).update(objects);
        expect(result.warnings, "warnings from the API server").to.deep.equal([]);
        const snap = await settled(cp, namespace);

        const d = snap.deployments.find((x) => x.metadata.name === "speculation-watchdog");
        expect(d, "no watchdog Deployment").to.not.equal(undefined);
        expect(d.status.availableReplicas).to.equal(2);
        const pods = podsSelected(snap, d.spec.selector);
        expect(readyAddresses(snap, "speculation-watchdog").sort()).to.deep.equal(pods.map((p) => p.status.podIP).sort());
        expect(danglingReferences(snap), "a Secret, ConfigMap or volume the pods refer to is missing").to.deep.equal([]);

        const sm = objects.find((o) => o.kind === "ServiceMonitor" && o.metadata.name === "speculation-watchdog") as K8sObject;
        expect((await serviceMonitorTargets(cp, sm)).map((t) => t.service)).to.deep.equal(["speculation-watchdog"]);

        const policies = objects.filter((o) => o.kind === "NetworkPolicy");
        const admin = policies.find((p) => p.metadata.name === "agenc-speculation-admin")!;
        const watchdogLabels = pods[0].metadata.labels;
        expect(admin.spec.ingress[0].from.some((f: any) => f.podSelector && !f.namespaceSelector && selects(f.podSelector, watchdogLabels)),
            "the admin port does not admit the watchdog's pods").to.equal(true);
        const own = policies.find((p) => p.metadata.name === "watchdog")!;
        expect(pods.every((p) => selects(own.spec.podSelector, p.metadata.labels))).to.equal(true);
        expect(own.spec.ingress[0].ports).to.deep.equal([{ protocol: "TCP", port: 9095 }]);
    });

    it("ingress-weight: a revert sets the canary's weight to 0 as the watchdog's own service account, allowed nothing else; the next apply takes the weight back only by force", async () => {
        const namespace = "watchdog-ingress";
        let config = withEdit(stackConfig("staging"), "speculation:canary", "shiftMode", "ingress-weight");
        config = withEdit(config, "speculation:rolloutPercentage", undefined, 10);
        const objects = inNamespace(await programObjects(config), "agenc-staging", namespace);
        const cluster = new Cluster(cp);
        const result = await cluster.update(objects);
        expect(result.warnings, "warnings from the API server").to.deep.equal([]);
        const snap = await settled(cp, namespace);
        const d = snap.deployments.find((x) => x.metadata.name === "speculation-watchdog");
        const pod = d.spec.template.spec;
        expect([pod.serviceAccountName, pod.automountServiceAccountToken]).to.deep.equal(["speculation-watchdog", true]);
        expect(podsSelected(snap, d.spec.selector).every((p) => p.spec.serviceAccountName === "speculation-watchdog"), "pods run as the watchdog's account").to.equal(true);

        // The account's token (TokenRequest, as the kubelet would mount it) may get and patch the canary Ingress only.
        const token = (await cp.kubectl(["create", "token", "speculation-watchdog", "-n", namespace, "--duration=10m"])).trim();
        // `auth can-i` exits 1 for "no": its answer is stdout either way.
        const can = async (...args: string[]) => (await cp.kubectl(["--token", token, "auth", "can-i", ...args, "-n", namespace])
            .catch((e: { stdout?: string }) => e.stdout ?? "error")).trim();
        expect(await can("patch", "ingresses/agenc-speculation-canary")).to.equal("yes");
        expect(await can("get", "ingresses/agenc-speculation-canary")).to.equal("yes");
        for (const denied of [["patch", "ingresses/agenc-speculation"], ["delete", "ingresses/agenc-speculation-canary"], ["list", "ingresses"], ["get", "secrets"], ["patch", "deployments/agenc-speculation-canary"]]) {
            expect(await can(...denied), denied.join(" ")).to.equal("no");
        }

        // The bundled watchdog (lib/watchdog/main.ts) as a process, with the account's token and the API server's CA, and the gate's
        // revert (lib/revert, target canary-weight) through it.
        const dir = mkdtempSync(path.join(tmpdir(), "watchdog-sa-"));
        writeFileSync(path.join(dir, "token"), token, { mode: 0o600 });
        const port = await freePort();
        const weight = async () => (await cp.getJson<any>(["get", "ingress", "agenc-speculation-canary", "-n", namespace])).metadata.annotations["nginx.ingress.kubernetes.io/canary-weight"];
        expect(await weight()).to.equal("10");
        let output = "";
        // The service the kill switch turns off (a reference service playing the in-cluster one).
        const service = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.4" });
        Object.assign(service.state, { enabled: true, rolloutPercentage: 10 });
        const watchdog: ChildProcess = spawn(process.execPath, [WATCHDOG_SCRIPT], {
            env: {
                PATH: process.env.PATH, SERVICE_URL: service.url, ADMIN_TOKEN, PORT: String(port), LISTEN_HOST: "127.0.0.1", REVERT_DEADLINE_SECONDS: "30",
                CANARY_INGRESS: "agenc-speculation-canary", KUBE_API_URL: cp.server, KUBE_TOKEN_FILE: path.join(dir, "token"),
                KUBE_CA_FILE: path.join(cp.dir, "ca.crt"), KUBE_NAMESPACE: namespace,
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        watchdog.stdout!.on("data", (c) => { output += c; });
        watchdog.stderr!.on("data", (c) => { output += c; });
        try {
            const url = `http://127.0.0.1:${port}`;
            await eventually("the watchdog listening", async () => (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) || undefined, 20_000);
            const started = Date.now();
            const revert = await revertTraffic({
                target: "canary-weight", watchdogActionUrl: `${url}/alerts`, stage: "stage-1-10pct", percentage: 10, serviceUrl: "http://127.0.0.1:9",
                adminToken: "", reason: "no-go: canary vs stable: errorRate", timeoutMs: 10_000, deadlineSeconds: 60, log: () => undefined,
            });
            expect(revert.status, JSON.stringify(revert.attempts)).to.equal("confirmed");
            expect(revert.attempts.map((a) => a.path)).to.deep.equal(["watchdog"]);
            console.log(`      (the gate's revert → canary weight 0 through the watchdog and the API server, read back: ${Date.now() - started} ms)`);
            expect(await weight(), "the canary's weight on the API server").to.equal("0");
            expect(output).to.match(/REVERTED: canary weight of ingress\/agenc-speculation-canary set to 0 and confirmed/);
            const again = await (await fetch(`${url}/alerts`, { method: "POST", body: JSON.stringify({ alerts: [{ status: "firing", labels: { alertname: "SpeculationErrorRateSpike", rollback_trigger: "true" } }] }) })).json() as { outcome: string };
            expect(again.outcome, "a second trigger finds the weight at 0").to.equal("already-zero");
            expect(output.includes(token), "the account's token in the watchdog's log").to.equal(false);

            // Server-side apply: the watchdog now owns the weight, so the program's next apply of another weight is a
            // field conflict — unless forced, which pulumi-kubernetes does for an object annotated pulumi.com/patchForce.
            const canary = objects.find((o) => o.kind === "Ingress" && o.metadata.name === "agenc-speculation-canary")!;
            const managers = (await cp.getJson<any>(["get", "ingress", "agenc-speculation-canary", "-n", namespace, "--show-managed-fields"])).metadata.managedFields.map((m: any) => m.manager);
            expect(managers).to.include("agenc-watchdog");
            const applyCanary = (force: boolean) => cp.kubectl(["apply", "--server-side", "--validate=strict", `--field-manager=${FIELD_MANAGER}`,
                ...(force ? ["--force-conflicts"] : []), "-f", "-"], documents([canary]));
            const refused = await applyCanary(false).then(() => "applied", (e: Error) => e.message);
            expect(refused).to.match(/conflict/i).and.to.match(/agenc-watchdog/);
            expect(canary.metadata.annotations?.[PATCH_FORCE], "the canary Ingress asks the provider to force its apply").to.equal("true");
            await applyCanary(canary.metadata.annotations?.[PATCH_FORCE] === "true");
            expect(await weight(), "the operator's `pulumi up` takes the weight back").to.equal("10");

            // The kill switch includes the revert here too: the canary's weight to 0, then speculation off.
            const kill = await (await fetch(`${url}/alerts`, { method: "POST", body: JSON.stringify({ alerts: [{ status: "firing", labels: { alertname: "SpeculationSentinelFailing", kill_switch: "true" } }] }) })).json() as { outcome: string; action: string };
            expect([kill.action, kill.outcome], JSON.stringify(kill)).to.deep.equal(["kill-switch", "confirmed"]);
            expect(await weight(), "the kill switch took the canary's weight").to.equal("0");
            expect([service.state.enabled, service.state.rolloutPercentage]).to.deep.equal([false, 0]);
        } finally {
            watchdog.kill("SIGTERM");
            await service.close();
        }
    });

    it("production at 100 %: the pods roll with the sentinel probes on, the script's ConfigMap holds the probe, the kill-switch route and rule are stored as declared", async () => {
        const namespace = "watchdog-sentinel";
        const config = withEdit(stackConfig("production"), "speculation:hardening", "networkPolicies.gateCidrs", ["192.0.2.0/24"]);
        const objects = inNamespace(await programObjects({ ...config, "speculation:rolloutPercentage": 100 }), "agenc-production", namespace);
        const result = await new Cluster(cp).update(objects);
        expect(result.warnings, "warnings from the API server").to.deep.equal([]);
        const snap = await settled(cp, namespace);

        const d = snap.deployments.find((x) => x.metadata.name === "speculation-watchdog");
        expect(d.status.availableReplicas).to.equal(2);
        const env = d.spec.template.spec.containers[0].env as { name: string; value?: string }[];
        expect(env).to.deep.include.members([{ name: "SENTINEL_INTERVAL_SECONDS", value: "60" }, { name: "SENTINEL_TIMEOUT_MS", value: "10000" }]);
        const cm = snap.configMaps.find((x) => x.metadata.name === "speculation-watchdog");
        expect(Object.keys(cm.data).sort()).to.deep.equal(["watchdog.js"]);
        expect(danglingReferences(snap)).to.deep.equal([]);

        // The operator's CRDs validate the matchers (matchType "!=" included) and keep the kill_switch label.
        const amc = await cp.getJson<any>(["get", "alertmanagerconfigs.monitoring.coreos.com", "agenc-speculation", "-n", namespace]);
        expect(amc.spec.route.routes.slice(0, 2).map((r: any) => r.matchers)).to.deep.equal([
            [{ name: "kill_switch", value: "true", matchType: "=" }],
            [{ name: "rollback_trigger", value: "true", matchType: "=" }, { name: "kill_switch", value: "true", matchType: "!=" }],
        ]);
        const rules = await cp.getJson<any>(["get", "prometheusrules.monitoring.coreos.com", "-n", namespace]);
        const sentinel = rules.items.flatMap((r: any) => r.spec.groups).flatMap((g: any) => g.rules).find((r: any) => r.alert === "SpeculationSentinelFailing");
        expect(sentinel.labels).to.deep.equal({ severity: "critical", component: "sentinel", kill_switch: "true" });
    });
});
