/**
 * Every Kubernetes object the program registers, on a real control plane (reference/controlPlane.ts): taken from
 * the mocked program's registrations (the inputs the pulumi-kubernetes provider would receive), server-side applied
 * with strict field validation, and updated in order the way `pulumi up` moves a stack — for both stacks, both
 * monitoring modes, every shift mode, at 0 %, the first step and 100 %, then the next release; and across modes.
 *
 * After every update: no warning from the API server; the namespace enforces Pod Security at the configured level
 * and every pod was admitted under it; every Deployment rolled out and Available; every Service's EndpointSlices
 * list exactly the ready pods it selects, and at least one; every PodDisruptionBudget counts the pods of one
 * Deployment (the disruption controller's own count); every ServiceMonitor (operator mode) or Kubernetes scrape job
 * (standalone mode) selects Services with ready endpoints on the port it names, and every metrics Service is
 * scraped; every ConfigMap/Secret a pod template refers to exists with the keys it names; nothing was replaced.
 *
 * Scenarios run side by side in their own namespaces (inNamespace), on one control plane per test run.
 */
import { expect } from "chai";
import { MONITORING_MODES, SHIFT_MODES } from "../../config/schema";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import {
    Cluster, danglingReferences, inNamespace, orphanCanaryIngresses, podsSelected, programObjects, readyAddresses, scrapeJobTargets,
    serviceMonitorTargets, settled, Snapshot, UpdateResult,
} from "../helpers/kube";
import { stackConfig, withEdit } from "../helpers/stack";
import { parse } from "yaml";

type Stack = "staging" | "production";
const RELEASE_LABEL = "kube-prometheus-stack"; // monitoring.prometheusReleaseLabel's default

interface Scenario { label: string; config: Record<string, unknown>; secretKeys: string[] }

function scenario(stack: Stack, edits: { monitoring: string; shift: string; percentage: number; version?: [string, string] }): Scenario {
    let c = stackConfig(stack);
    c = withEdit(c, "speculation:monitoring", "mode", edits.monitoring);
    c = withEdit(c, "speculation:canary", "shiftMode", edits.shift);
    c = withEdit(c, "speculation:rolloutPercentage", undefined, edits.percentage);
    // Production's stable track runs the previous version pinned by its own digest in the two-track modes.
    if (stack === "production" && edits.shift !== "feature-flag") c = withEdit(c, "speculation:release", "images.speculation.previousDigest", `sha256:${"0".repeat(64)}`);
    if (edits.version) {
        c = withEdit(c, "speculation:release", "version", edits.version[0]);
        c = withEdit(c, "speculation:release", "previousVersion", edits.version[1]);
    }
    // Production as operated: both alert receivers set (secrets), so the receiver Secret and its references are real.
    const secretKeys: string[] = [];
    if (stack === "production") {
        c = withEdit(c, "speculation:alertReceivers", undefined, {
            slackWebhookUrl: "https://hooks.slack.example/T000/B000/SECRETVALUE", pagerdutyRoutingKey: "0123456789abcdef0123456789abcdef",
        });
        secretKeys.push("speculation:alertReceivers");
        // …and a Pushgateway for the deployment records: operator mode scrapes it through a ScrapeConfig (CRD-validated
        // here), standalone mode through a static job with honor_labels.
        c = withEdit(c, "speculation:records", "pushgatewayUrl", "http://prometheus-pushgateway.monitoring.svc.cluster.local:9091");
    }
    const label = `${edits.monitoring} monitoring, ${edits.shift}, ${edits.percentage} %${edits.version ? ` of ${edits.version[0]}` : ""}`;
    return { label, config: c, secretKeys };
}

const firstStep = (stack: Stack) => (stackConfig(stack)["speculation:canary"] as { steps: { percentage: number }[] }).steps[0].percentage;

/** Applies a scenario's objects as an update in `namespace`, then checks everything the suite's header lists. */
async function updateAndVerify(cp: ControlPlane, cluster: Cluster, stack: Stack, namespace: string, s: Scenario): Promise<{ result: UpdateResult; snap: Snapshot }> {
    const objects = inNamespace(await programObjects(s.config, s.secretKeys), `agenc-${stack}`, namespace);
    const result = await cluster.update(objects);
    expect(result.warnings, "warnings from the API server").to.deep.equal([]);
    expect(result.replaced, "objects replaced instead of updated in place").to.deep.equal([]);

    // Pod Security: the namespace enforces the configured level, and every pod was admitted (settled fails fast on a
    // ReplicaSet that could not create pods).
    const snap = await settled(cp, namespace);
    expect(snap.namespace.metadata.labels["pod-security.kubernetes.io/enforce"]).to.equal("restricted");

    const deployments = objects.filter((o) => o.kind === "Deployment");
    expect(snap.deployments.map((d) => d.metadata.name).sort()).to.deep.equal(deployments.map((d) => d.metadata.name).sort());
    for (const d of snap.deployments) {
        const own = podsSelected(snap, d.spec.selector);
        expect(own, `pods of Deployment ${d.metadata.name}`).to.have.length(d.spec.replicas);
        // A pod template that names a version runs that version's image tag.
        const version = d.spec.template.metadata.labels?.version;
        if (version) for (const c of d.spec.template.spec.containers) expect(c.image, `${d.metadata.name} image`).to.contain(`:${version}`);
    }

    for (const svc of snap.services) {
        expect(readyAddresses(snap, svc.metadata.name), `ready endpoints of Service ${svc.metadata.name}`).to.not.be.empty;
    }

    for (const pdb of snap.pdbs) {
        const owners = snap.deployments.filter((d) => podsSelected(snap, pdb.spec.selector).some((p) => podsSelected(snap, d.spec.selector).includes(p)));
        expect(owners.map((d) => d.metadata.name), `Deployments whose pods PDB ${pdb.metadata.name} selects`).to.have.length(1);
        expect(pdb.status.expectedPods, `PDB ${pdb.metadata.name} expectedPods (disruption controller)`).to.equal(owners[0].spec.replicas);
        expect(pdb.status.currentHealthy).to.equal(pdb.status.expectedPods);
    }

    expect(danglingReferences(snap)).to.deep.equal([]);

    const metricsServices = snap.services.filter((svc) => (svc.spec.ports ?? []).some((p: any) => p.name === "metrics")).map((svc) => svc.metadata.name);
    const scraped = new Set<string>();
    const scrapedPods: string[] = [];
    const mode = s.config["speculation:monitoring"] as { mode: string };
    if (mode.mode === "operator") {
        const monitors = objects.filter((o) => o.kind === "ServiceMonitor");
        expect(monitors).to.not.be.empty;
        for (const sm of monitors) {
            expect(sm.metadata.labels?.release, `ServiceMonitor ${sm.metadata.name} release label`).to.equal(RELEASE_LABEL);
            const targets = await serviceMonitorTargets(cp, sm);
            expect(targets, `Services ServiceMonitor ${sm.metadata.name} selects`).to.not.be.empty;
            for (const t of targets) {
                expect(t.ports, `ServiceMonitor ${sm.metadata.name} port on Service ${t.service}`).to.not.be.empty;
                expect(readyAddresses(snap, t.service)).to.not.be.empty;
                scraped.add(t.service);
                scrapedPods.push(...readyAddresses(snap, t.service));
            }
        }
        for (const rule of objects.filter((o) => o.kind === "PrometheusRule")) expect(rule.metadata.labels?.release).to.equal(RELEASE_LABEL);
        for (const sc of objects.filter((o) => o.kind === "ScrapeConfig")) expect(sc.metadata.labels?.release, `ScrapeConfig ${sc.metadata.name} release label`).to.equal(RELEASE_LABEL);
        if (stack === "production") expect(objects.filter((o) => o.kind === "ScrapeConfig").map((o) => o.metadata.name)).to.include("pushgateway");
    } else {
        const cm = snap.configMaps.find((c) => c.metadata.name === "prometheus-config");
        const config = parse(cm.data["prometheus.yml"]) as { scrape_configs: any[]; alerting: any };
        const jobs = config.scrape_configs.filter((j) => j.kubernetes_sd_configs);
        expect(jobs).to.not.be.empty;
        for (const job of inNamespace(jobs, `agenc-${stack}`, namespace)) {
            const targets = scrapeJobTargets(job, snap);
            expect(targets, `targets of scrape job ${job.job_name}`).to.not.be.empty;
            for (const t of targets) { scraped.add(t.service); scrapedPods.push(t.address.split(":")[0]); }
        }
        // Prometheus may read what its discovery needs, and the addresses its config names are Services here.
        const can = await cp.kubectl(["auth", "can-i", "list", "endpoints", "-n", namespace, `--as=system:serviceaccount:${namespace}:prometheus`]);
        expect(can.trim()).to.equal("yes");
        for (const target of config.alerting.alertmanagers.flatMap((a: any) => a.static_configs.flatMap((sc: any) => sc.targets))) {
            const [host, port] = String(target).split(":");
            const svc = snap.services.find((x) => x.metadata.name === host);
            expect(svc?.spec.ports.map((p: any) => String(p.port)), `Service for Alertmanager target ${target}`).to.include(port);
        }
    }
    // A Service nothing scrapes is fine only when its pods are scraped through another (blue-green at 100 %: green's
    // pods through the primary Service); and no pod is scraped twice.
    const unscraped = metricsServices.filter((svc) => !scraped.has(svc) && !readyAddresses(snap, svc).every((a) => scrapedPods.includes(a)));
    expect(unscraped, "metrics Services whose pods nothing scrapes").to.deep.equal([]);
    expect(scrapedPods.filter((a, i) => scrapedPods.indexOf(a) !== i), "pods scraped more than once").to.deep.equal([]);

    // Every canary Ingress has its primary (ingress-nginx ignores it otherwise), and every Ingress backend is a
    // Service with that port and ready endpoints.
    expect(orphanCanaryIngresses(snap)).to.deep.equal([]);
    for (const ing of objects.filter((o) => o.kind === "Ingress")) {
        for (const rule of ing.spec.rules ?? []) {
            for (const p of rule.http?.paths ?? []) {
                const b = p.backend.service;
                const svc = snap.services.find((x) => x.metadata.name === b.name);
                expect(svc, `Service ${b.name} behind Ingress ${ing.metadata.name}`).to.exist;
                expect(svc.spec.ports.some((sp: any) => sp.port === b.port.number || sp.name === b.port.name)).to.equal(true);
                expect(readyAddresses(snap, b.name)).to.not.be.empty;
            }
        }
    }
    return { result, snap };
}

const short = { operator: "op", standalone: "sa", "feature-flag": "ff", "ingress-weight": "iw" } as Record<string, string>;
const nsName = (...parts: string[]) => parts.map((p) => short[p] ?? p).join("-").replace(/[^a-z0-9-]/g, "").slice(0, 63);

describe("the program's Kubernetes objects on a real control plane", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;
    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the binaries (cold: ~15 min on 2 idle cores)
        cp = await controlPlane();
    });

    for (const stack of ["staging", "production"] as Stack[]) {
        for (const monitoring of MONITORING_MODES) {
            for (const shift of SHIFT_MODES) {
                describe(`${stack}: ${monitoring} monitoring, ${shift}`, () => {
                    const namespace = nsName(stack.slice(0, 4), monitoring, shift);
                    let cluster: Cluster;
                    before(() => { cluster = new Cluster(cp); });
                    const steps = [
                        scenario(stack, { monitoring, shift, percentage: 0 }),
                        scenario(stack, { monitoring, shift, percentage: firstStep(stack) }),
                        scenario(stack, { monitoring, shift, percentage: 100 }),
                        scenario(stack, { monitoring, shift, percentage: 0, version: ["v1.2.4", "v1.2.3"] }),
                    ];
                    steps.forEach((s, i) => {
                        it(`${i === 0 ? "creates" : "updates to"} ${s.label}`, async () => {
                            await updateAndVerify(cp, cluster, stack, namespace, s);
                        });
                    });
                });
            }
        }

        describe(`${stack}: moving between modes at the first step, as updates in order`, () => {
            const namespace = nsName(stack.slice(0, 4), "modes");
            let cluster: Cluster;
            before(() => { cluster = new Cluster(cp); });
            const order: [string, string][] = [];
            for (const monitoring of [...MONITORING_MODES, MONITORING_MODES[0]]) for (const shift of SHIFT_MODES) order.push([monitoring, shift]);
            order.forEach(([monitoring, shift], i) => {
                const s = scenario(stack, { monitoring, shift, percentage: firstStep(stack) });
                it(`${i === 0 ? "creates" : "then"} ${s.label}`, async () => {
                    const { result } = await updateAndVerify(cp, cluster, stack, namespace, s);
                    if (i > 0) expect(result.applied.length + result.deleted.length).to.be.greaterThan(0);
                });
            });
        });
    }
});
