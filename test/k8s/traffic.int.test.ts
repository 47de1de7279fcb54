/**
 * The shift modes' objects on the real control plane (issue 13): relations the mocks cannot prove.
 *  - ingress-weight: the primary and canary Ingress pair (same host and path, each backend a Service with the right
 *    pods behind it), both tracks selected by a ServiceMonitor (operator) or the standalone scrape job;
 *  - blue-green: the primary Service's endpoints follow its selector to green at 100 % and back to blue on the
 *    switch back, green and blue both kept running;
 *  - the new track's PodDisruptionBudget (canary, green): selects exactly its pods, and the one-pod canary's allows
 *    the eviction a drain makes.
 * Each scenario runs the program under mocks with a stack config and applies what it registers, as `pulumi up` would.
 */
import { expect } from "chai";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import {
    Cluster, inNamespace, K8sObject, orphanCanaryIngresses, programObjects, readyAddresses, scrapeJobTargets, serviceMonitorTargets, settled, snapshot,
    podsSelected, Snapshot,
} from "../helpers/kube";
import { eventually } from "../helpers/wait";
import { ingressExposure } from "../../lib/ingress/routes";
import { SPECULATION_APPS } from "../../lib/network/peers";
import { stackConfig, withEdit } from "../helpers/stack";
import { parse } from "yaml";

const config = (shiftMode: string, percentage: number, edit: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c) => {
    let c = withEdit(stackConfig("staging"), "speculation:canary", "shiftMode", shiftMode);
    c = withEdit(c, "speculation:rolloutPercentage", undefined, percentage);
    return edit(c);
};

describe("shift modes on the real control plane", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;
    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the binaries
        cp = await controlPlane();
    });

    /** The program's objects moved into a namespace of their own, applied as one stack. */
    const deploy = async (cluster: Cluster, ns: string, c: Record<string, unknown>): Promise<{ objects: K8sObject[]; snap: Snapshot }> => {
        const objects = inNamespace(await programObjects(c), "agenc-staging", ns);
        await cluster.update(objects);
        return { objects, snap: await settled(cp, ns) };
    };
    const podIps = (snap: Snapshot, app: string) => podsSelected(snap, { app }).map((p) => p.status.podIP).sort();

    it("ingress-weight: the primary and the canary Ingress route the same host and public paths (never /admin) to Services with the right pods", async () => {
        const ns = "traffic-ingress";
        const publicPaths = [{ path: "/api", pathType: "Prefix" }, { path: "/status", pathType: "Exact" }];
        const { objects, snap } = await deploy(new Cluster(cp), ns, config("ingress-weight", 10, (c) => withEdit(c, "speculation:canary", "ingress.publicPaths", publicPaths)));
        const ingresses = (await cp.getJson<{ items: any[] }>(["get", "ingresses.networking.k8s.io", "-n", ns])).items;
        const primary = ingresses.find((i) => i.metadata.name === "agenc-speculation");
        const canary = ingresses.find((i) => i.metadata.name === "agenc-speculation-canary");
        expect(primary, "the primary Ingress exists beside the canary").to.not.equal(undefined);
        const route = (i: any) => [i.spec.ingressClassName, i.spec.rules.map((r: any) => [r.host, r.http.paths.map((p: any) => [p.path, p.pathType])])];
        expect(route(canary)).to.deep.equal(route(primary));
        // As stored: only the public paths, Prefix or Exact, and nothing that reaches the admin API or /metrics.
        expect(route(primary)).to.deep.equal(["nginx", [["speculation.agenc.local", [["/api", "Prefix"], ["/status", "Exact"]]]]]);
        for (const ing of ingresses) expect(ingressExposure(ing, SPECULATION_APPS), ing.metadata.name).to.deep.equal([]);
        expect(orphanCanaryIngresses(snap)).to.deep.equal([]);
        expect(canary.metadata.annotations["nginx.ingress.kubernetes.io/canary"]).to.equal("true");
        expect(primary.metadata.annotations?.["nginx.ingress.kubernetes.io/canary"]).to.equal(undefined);
        const backend = (i: any) => i.spec.rules[0].http.paths[0].backend.service;
        // Each backend Service exists, serves the named port, and has exactly its track's pods behind it.
        for (const [ing, app, version] of [[primary, "agenc-speculation", "v1.2.2"], [canary, "agenc-speculation-canary", "v1.2.3"]] as const) {
            const svc = snap.services.find((s) => s.metadata.name === backend(ing).name);
            expect(svc, `${backend(ing).name} exists`).to.not.equal(undefined);
            expect(svc.spec.ports.map((p: any) => p.port)).to.include(backend(ing).port.number);
            const ips = podIps(snap, app);
            expect(ips.length).to.be.greaterThan(0);
            expect(readyAddresses(snap, svc.metadata.name).sort()).to.deep.equal(ips);
            expect(podsSelected(snap, { app }).every((p) => p.metadata.labels.version === version)).to.equal(true);
        }
        // Both tracks are scraped, each Service selected by a ServiceMonitor that copies its track label.
        const monitors = objects.filter((o) => o.kind === "ServiceMonitor");
        const selected = new Map<string, string[]>();
        for (const m of monitors) for (const t of await serviceMonitorTargets(cp, m)) selected.set(t.service, [...(selected.get(t.service) ?? []), m.metadata.name]);
        for (const [service, track] of [["agenc-speculation", "stable"], ["agenc-speculation-canary", "canary"]]) {
            expect(selected.get(service), `${service} is selected by one ServiceMonitor`).to.have.length(1);
            const m = monitors.find((x) => x.metadata.name === selected.get(service)![0])!;
            expect(m.spec.targetLabels).to.deep.equal(["track"]);
            expect(snap.services.find((s) => s.metadata.name === service).metadata.labels.track).to.equal(track);
        }
    });

    it("ingress-weight, standalone monitoring: the scrape job finds the stable and the canary endpoints", async () => {
        const ns = "traffic-standalone";
        const { objects, snap } = await deploy(new Cluster(cp), ns, config("ingress-weight", 10, (c) => withEdit(c, "speculation:monitoring", "mode", "standalone")));
        const promConfig = parse(objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "prometheus-config")!.data["prometheus.yml"]);
        const job = promConfig.scrape_configs.find((j: any) => j.job_name === "agenc-speculation");
        const targets = scrapeJobTargets({ ...job, kubernetes_sd_configs: job.kubernetes_sd_configs.map((sd: any) => ({ ...sd, namespaces: { names: [ns] } })) }, snap);
        expect([...new Set(targets.map((t) => t.service))].sort()).to.deep.equal(["agenc-speculation", "agenc-speculation-canary"]);
        expect(targets.map((t) => t.address.split(":")[0]).sort()).to.deep.equal([...podIps(snap, "agenc-speculation"), ...podIps(snap, "agenc-speculation-canary")].sort());
    });

    it("blue-green at 100 %, standalone monitoring: the scrape job scrapes each green pod once, through the primary Service", async () => {
        const ns = "traffic-bluegreen-standalone";
        const standalone = (c: Record<string, unknown>) => withEdit(c, "speculation:monitoring", "mode", "standalone");
        const { objects, snap } = await deploy(new Cluster(cp), ns, config("blue-green", 100, standalone));
        const promConfig = parse(objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "prometheus-config")!.data["prometheus.yml"]);
        const job = promConfig.scrape_configs.find((j: any) => j.job_name === "agenc-speculation");
        const targets = scrapeJobTargets({ ...job, kubernetes_sd_configs: job.kubernetes_sd_configs.map((sd: any) => ({ ...sd, namespaces: { names: [ns] } })) }, snap);
        expect(targets.map((t) => t.service)).to.satisfy((s: string[]) => s.every((x) => x === "agenc-speculation"));
        expect(targets.map((t) => t.address.split(":")[0]).sort()).to.deep.equal(podIps(snap, "agenc-speculation-green"));
    });

    it("blue-green, lowerSteps mirror: the primary Ingress mirrors to green's own Service (name, namespace, port), whose endpoints are green's pods; blue still serves", async () => {
        const ns = "traffic-mirror";
        const mirror = (c: Record<string, unknown>) => withEdit(c, "speculation:canary", "blueGreen.lowerSteps", "mirror");
        const { objects, snap } = await deploy(new Cluster(cp), ns, config("blue-green", 50, mirror));
        const primary = objects.find((o) => o.kind === "Ingress" && o.metadata.name === "agenc-speculation")!;
        const target = primary.metadata.annotations?.["nginx.ingress.kubernetes.io/mirror-target"];
        expect(target, "the primary Ingress mirrors").to.be.a("string");
        // ingress-nginx appends $request_uri; the host is the in-cluster DNS name <service>.<namespace>.svc.cluster.local.
        const url = new URL(target!.replace(/\$request_uri$/, ""));
        const [service, namespace] = url.hostname.split(".");
        expect([namespace, url.hostname.split(".").slice(2).join(".")]).to.deep.equal(["agenc-staging", "svc.cluster.local"]);
        const svc = snap.services.find((x) => x.metadata.name === service);
        expect(svc, `the mirror's Service ${service}`).to.not.equal(undefined);
        expect(svc.spec.ports.map((p: any) => String(p.port))).to.include(url.port);
        expect(readyAddresses(snap, service).sort(), "the mirror reaches green's pods").to.deep.equal(podIps(snap, "agenc-speculation-green"));
        expect(readyAddresses(snap, "agenc-speculation").sort(), "blue keeps serving").to.deep.equal(podIps(snap, "agenc-speculation"));
        // Nothing is mirrored once green serves everything.
        const { objects: full } = await deploy(new Cluster(cp), `${ns}-full`, config("blue-green", 100, mirror));
        expect(full.find((o) => o.kind === "Ingress" && o.metadata.name === "agenc-speculation")!.metadata.annotations?.["nginx.ingress.kubernetes.io/mirror-target"]).to.equal(undefined);
    });

    it("blue-green: the primary Service's endpoints follow its selector to green at 100 % and back to blue on the switch back", async () => {
        const ns = "traffic-bluegreen";
        const cluster = new Cluster(cp);
        const primary = (snap: Snapshot) => readyAddresses(snap, "agenc-speculation").sort();

        let { snap } = await deploy(cluster, ns, config("blue-green", 50));
        const blue = podIps(snap, "agenc-speculation");
        const green = podIps(snap, "agenc-speculation-green");
        expect(blue.length).to.be.greaterThan(0);
        expect(green.length).to.be.greaterThan(0);
        expect(primary(snap), "below 100 % the primary Service serves blue").to.deep.equal(blue);
        expect(readyAddresses(snap, "agenc-speculation-green").sort(), "green has its own Service for the smoke tests").to.deep.equal(green);

        let objects: K8sObject[];
        ({ snap, objects } = await deploy(cluster, ns, config("blue-green", 100)));
        expect(primary(snap), "at 100 % the primary Service serves green").to.deep.equal(podIps(snap, "agenc-speculation-green"));
        expect(podIps(snap, "agenc-speculation"), "blue is kept").to.have.length(blue.length);
        // Each green pod is scraped once, through the primary Service (as track="stable", which green now is), not a
        // second time through green's own Service: every ServiceMonitor's Services, and the pod addresses behind them.
        const scraped: string[] = [];
        for (const sm of objects.filter((o) => o.kind === "ServiceMonitor" && /^agenc-speculation/.test(o.metadata.name))) {
            for (const t of await serviceMonitorTargets(cp, sm)) scraped.push(...readyAddresses(snap, t.service));
        }
        expect(scraped.sort(), "each serving pod scraped exactly once").to.deep.equal(podIps(snap, "agenc-speculation-green"));

        ({ snap } = await deploy(cluster, ns, config("blue-green", 50)));
        expect(primary(snap), "the switch back: blue again").to.deep.equal(podIps(snap, "agenc-speculation"));
        expect(podIps(snap, "agenc-speculation-green").length, "green stays for the next try").to.be.greaterThan(0);
    });

    /** The new track's budget as the disruption controller sees it, once it counted the pods it selects. */
    const budgetStatus = (ns: string, name: string, expectedPods: number) => eventually(`PodDisruptionBudget ${name} counts its ${expectedPods} pod(s)`, async () => {
        const pdb = await cp.getJson<any>(["get", "poddisruptionbudget", name, "-n", ns]);
        const st = pdb.status ?? {};
        return st.expectedPods === expectedPods && st.currentHealthy === expectedPods ? st : undefined;
    });
    const evict = (ns: string, pod: string) => cp.kubectl(["create", "--raw", `/api/v1/namespaces/${ns}/pods/${pod}/eviction`, "-f", "-"],
        JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace: ns } }));

    it("the new track's PodDisruptionBudget selects exactly its pods; the one-pod canary's never blocks a drain (the eviction API allows it)", async () => {
        for (const [shiftMode, name, replicas] of [["ingress-weight", "agenc-speculation-canary", 1], ["blue-green", "agenc-speculation-green", 2]] as const) {
            const ns = `traffic-pdb-${shiftMode}`;
            const { snap } = await deploy(new Cluster(cp), ns, config(shiftMode, 10));
            const pdb = snap.pdbs.find((p) => p.metadata.name === name);
            expect(pdb, `${name} has a PodDisruptionBudget`).to.not.equal(undefined);
            const trackPods = podsSelected(snap, { app: name }).map((p) => p.metadata.name).sort();
            expect(trackPods, `${name} runs ${replicas} pod(s)`).to.have.length(replicas);
            expect(podsSelected(snap, pdb.spec.selector).map((p) => p.metadata.name).sort(), `${name}'s budget selects its pods and no other`).to.deep.equal(trackPods);
            const stableBudget = snap.pdbs.find((p) => p.metadata.name === "agenc-speculation");
            expect(podsSelected(snap, stableBudget.spec.selector).some((p) => trackPods.includes(p.metadata.name)), "the stable budget does not count them").to.equal(false);
            // The disruption controller's own reading: every pod counted, one disruption allowed (minAvailable 1 would allow none with one pod).
            const status = await budgetStatus(ns, name, replicas);
            expect(status.disruptionsAllowed).to.equal(1);
            if (replicas === 1) {
                // A drain's eviction of the lone canary pod goes through, and the Deployment replaces it.
                await evict(ns, trackPods[0]);
                const replaced = await eventually(`${name} runs a new pod`, async () => {
                    const now = await snapshot(cp, ns);
                    const pods = podsSelected(now, { app: name }).filter((p) => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"));
                    return pods.length === 1 && pods[0].metadata.name !== trackPods[0] ? pods[0].metadata.name : undefined;
                });
                expect(replaced).to.not.equal(trackPods[0]);
            }
        }
    });
});
