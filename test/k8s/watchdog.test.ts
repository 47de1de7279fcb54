/**
 * The watchdog on a real control plane: its objects, as the program registers them, are accepted (strict field
 * validation, Pod Security restricted), its Deployment becomes Available behind its Service, the ServiceMonitor
 * (operator mode) selects it, the token comes from a Secret that exists, and the NetworkPolicies admit it to the
 * admin port and admit Alertmanager and Prometheus to it.  At 100 % its pods carry the sentinel probes' schedule, and
 * the kill-switch route and rule pass the prometheus-operator CRDs' validation.
 */
import { expect } from "chai";
import { ControlPlane, controlPlane } from "../helpers/controlPlane";
import { Cluster, danglingReferences, inNamespace, K8sObject, podsSelected, programObjects, readyAddresses, selects, serviceMonitorTargets, settled } from "../helpers/kube";
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
        expect(Object.keys(cm.data).sort()).to.deep.equal(["action.js", "synthetic.js"]);
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
