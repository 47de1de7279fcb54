/**
 * Real pods (issue 29, first part): the real node of scripts/real-node.sh joined to the test control plane runs the
 * speculation service from its image pinned by digest; its /metrics is reached through a Service (ClusterIP, routed
 * by kube-proxy) from the host and from another pod, which finds the Service by its DNS name through CoreDNS; after
 * `down` the host is as it was before `up` — sysctls, iptables, links and routes, mounts, cgroups, paths, processes.
 *
 * Skips, saying why, only when the node is not built (scripts/build-node.sh --check).  Needs root, as the suite does.
 */
import { expect } from "chai";
import { Resolver } from "dns/promises";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import { CLUSTER_DNS, REAL_NODE_NAME, REAL_NODE_PLACEMENT, RealNode, realNodeUnavailable, startRealNode } from "../../reference/realNode";
import { buildWorkloadImage, hostSnapshot, HostSnapshot } from "../helpers/realNode";
import { eventually } from "../helpers/wait";

const NS = "real-pods";
const TOKEN = "real-pods-admin-token";
const METRIC = "speculation_operations_total";

/** Restricted Pod Security: the namespace below enforces it, as the stack's namespaces do. */
const RESTRICTED = {
    securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
    container: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
};

function pod(name: string, image: string, labels: Record<string, string>, container: Record<string, unknown>, restartPolicy = "Always") {
    return {
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace: NS, labels },
        spec: {
            ...REAL_NODE_PLACEMENT, restartPolicy, securityContext: RESTRICTED.securityContext,
            enableServiceLinks: false, terminationGracePeriodSeconds: 2,
            containers: [{ name: "main", image, imagePullPolicy: "Never", securityContext: RESTRICTED.container, ...container }],
        },
    };
}

const phase = (p: any) => p?.status?.phase as string | undefined;

describe("a real node: pods in containers, a Service through kube-proxy, names through CoreDNS, a clean host after", function () {
    this.timeout(600_000);
    const unavailable = realNodeUnavailable();
    if (unavailable) {
        it(`is skipped: ${unavailable}`, function () { this.skip(); });
        return;
    }

    let cp: ControlPlane;
    let node: RealNode | undefined;
    let hostBefore: HostSnapshot;
    let during: HostSnapshot;
    let image: string;
    let clusterIP: string;
    const started = Date.now();

    before(async () => {
        cp = await controlPlane();
        hostBefore = hostSnapshot();
        node = await startRealNode(cp);
        process.stderr.write(`[real-node] start ${node.startSeconds.toFixed(1)} s\n`);
        image = buildWorkloadImage();
    });

    after(async () => {
        await node?.stop();
        process.stderr.write(`[real-node] suite ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });

    it("registers a Ready node with the machine's address, tainted so that only pods meant for it land there", async () => {
        const n = await cp.getJson<any>(["get", "node", REAL_NODE_NAME]);
        expect(n.status.addresses).to.deep.include({ type: "InternalIP", address: node!.address });
        expect(n.spec.taints).to.deep.include({ key: "agenc.test/real-node", value: "true", effect: "NoSchedule" });
        expect(n.status.nodeInfo.containerRuntimeVersion).to.match(/^containerd:\/\/1\.6\./);
        expect(n.status.nodeInfo.kubeletVersion).to.equal(cp.version);
    });

    it("runs the speculation service's pod from its image pinned by digest, in a restricted namespace", async () => {
        expect(image).to.match(/^agenc\.local\/reference-workloads@sha256:[0-9a-f]{64}$/);
        await cp.kubectl(["apply", "-f", "-"], JSON.stringify({
            apiVersion: "v1", kind: "List", items: [
                { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
                pod("speculation", image, { app: "speculation" }, {
                    args: ["serve", "--host", "0.0.0.0"], env: [{ name: "ADMIN_TOKEN", value: TOKEN }],
                    ports: [{ name: "http", containerPort: 9090 }],
                    readinessProbe: { httpGet: { path: "/metrics", port: 9090 }, periodSeconds: 1 },
                }),
                { apiVersion: "v1", kind: "Service", metadata: { name: "speculation", namespace: NS },
                    spec: { selector: { app: "speculation" }, ports: [{ name: "http", port: 80, targetPort: 9090 }] } },
            ],
        }));
        const created = Date.now();
        const running = await eventually("the speculation pod Running", async () => {
            const p = await cp.getJson<any>(["get", "pod", "speculation", "-n", NS]);
            const waiting = p.status?.containerStatuses?.[0]?.state?.waiting;
            if (waiting && !/ContainerCreating|PodInitializing/.test(waiting.reason)) {
                throw Object.assign(new Error(`container waiting: ${waiting.reason}: ${waiting.message}`), { fatal: true });
            }
            return phase(p) === "Running" && p;
        }, 120_000);
        process.stderr.write(`[real-node] pod create -> Running ${((Date.now() - created) / 1000).toFixed(1)} s\n`);
        expect(running.spec.nodeName).to.equal(REAL_NODE_NAME);
        expect(running.status.podIP).to.match(/^10\.88\./);
        const digest = image.split("@")[1];
        expect(running.status.containerStatuses[0].imageID).to.contain(digest);
        // Its own log line, read through the API server from the kubelet (logs need the kubelet's client certificate).
        expect(await cp.kubectl(["logs", "speculation", "-n", NS])).to.contain('"serviceUrl":"http://0.0.0.0:9090"');
        await eventually("the pod Ready (its readiness probe passes)", async () => {
            const p = await cp.getJson<any>(["get", "pod", "speculation", "-n", NS]);
            return (p.status.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
        }, 60_000);
        during = hostSnapshot();
    });

    it("serves /metrics through the Service's ClusterIP from the host (kube-proxy's rules)", async () => {
        const svc = await cp.getJson<any>(["get", "service", "speculation", "-n", NS]);
        clusterIP = svc.spec.clusterIP;
        expect(clusterIP).to.match(/^10\.96\./);
        const text = await eventually("ClusterIP answers", async () => {
            const res = await fetch(`http://${clusterIP}/metrics`, { signal: AbortSignal.timeout(3000) });
            return res.ok && await res.text();
        }, 30_000);
        expect(text).to.contain(`# TYPE ${METRIC} counter`);
    });

    it("resolves the Service's name through CoreDNS (kube-dns at the cluster DNS address) from the host", async () => {
        const resolver = new Resolver({ timeout: 2000, tries: 2 });
        resolver.setServers([CLUSTER_DNS]);
        expect(await resolver.resolve4(`speculation.${NS}.svc.cluster.local`)).to.deep.equal([clusterIP]);
        const none = await resolver.resolve4(`absent.${NS}.svc.cluster.local`).then(() => "resolved", (e) => e.code);
        expect(none).to.equal("ENOTFOUND");
    });

    it("serves /metrics to another pod, which finds the Service by its DNS name and reaches the API server with its token", async () => {
        const script = `const dns = require("dns").promises;
(async () => {
  const name = "speculation.${NS}.svc.cluster.local";
  const addresses = await dns.resolve4(name);
  const res = await fetch("http://speculation/metrics");
  const text = await res.text();
  // The API server through the kubernetes Service (10.96.0.1), with the pod's service-account token.
  const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
  const fs = require("fs");
  const api = await new Promise((resolve, reject) => require("https").get("https://kubernetes.default.svc/version",
    { ca: fs.readFileSync(sa + "/ca.crt"), headers: { authorization: "Bearer " + fs.readFileSync(sa + "/token", "utf8") } },
    (r) => { let b = ""; r.on("data", (d) => b += d).on("end", () => resolve({ status: r.statusCode, version: JSON.parse(b).gitVersion })); })
    .on("error", reject));
  console.log(JSON.stringify({ addresses, status: res.status, metric: text.includes("# TYPE ${METRIC} counter"), api }));
})().catch((e) => { console.error(e); process.exit(1); });`;
        await cp.kubectl(["apply", "-f", "-"], JSON.stringify(pod("client", image, { app: "client" },
            { command: ["/usr/local/bin/node", "-e", script] }, "Never")));
        const done = await eventually("the client pod finishes", async () => {
            const p = await cp.getJson<any>(["get", "pod", "client", "-n", NS]);
            if (phase(p) === "Failed") throw Object.assign(new Error(`client failed: ${await cp.kubectl(["logs", "client", "-n", NS]).catch(String)}`), { fatal: true });
            return phase(p) === "Succeeded" && p;
        }, 120_000);
        expect(done.status.podIP).to.match(/^10\.88\./);
        const line = JSON.parse((await cp.kubectl(["logs", "client", "-n", NS])).trim().split("\n").pop()!);
        // "speculation" alone resolves through the pod's search path (resolv.conf written by the kubelet).
        expect(line).to.deep.equal({ addresses: [clusterIP], status: 200, metric: true, api: { status: 200, version: cp.version } });
    });

    it("starts again after a crash: the next up cleans up what the killed node left (containers, chains, sysctls)", async () => {
        // A crash: the daemons die at once (SIGKILL), no down runs; the shims and containers go on.
        const daemons = hostSnapshot().nodeProcesses.filter((p) => /^\d+ (\/usr\/bin\/containerd |\S+\/bin\/(kubelet|kube-proxy|coredns) )/.test(p));
        expect(daemons.length).to.equal(4);
        for (const p of daemons) process.kill(Number(p.split(" ")[0]), "SIGKILL");
        const crashed = await eventually("the daemons gone", async () => {
            const s = hostSnapshot();
            return s.nodeProcesses.every((p) => !daemons.includes(p)) && s;
        }, 30_000);
        expect(crashed.links).to.include("agenc0");
        expect(crashed.sysctls["vm.overcommit_memory"]).to.equal("1");
        expect(crashed.nodeProcesses.some((p) => /containerd-shim/.test(p)), "the shims outlive the crash").to.equal(true);
        node = await startRealNode(cp);
        process.stderr.write(`[real-node] start after a crash ${node.startSeconds.toFixed(1)} s\n`);
        const n = await cp.getJson<any>(["get", "node", REAL_NODE_NAME]);
        expect((n.status.conditions ?? []).find((c: any) => c.type === "Ready")?.status).to.equal("True");
        // Only the new run's processes: the crashed run's shims and containers were killed.
        const shimsNow = hostSnapshot().nodeProcesses.filter((p) => /containerd-shim/.test(p));
        expect(shimsNow.filter((p) => crashed.nodeProcesses.includes(p))).to.deep.equal([]);
    });

    it("after down, the host is as before up (and while up it was not)", async () => {
        // The check has teeth: while the node ran, the kubelet's sysctls, the bridge and kube-proxy's chains were there.
        expect(during.links).to.include("agenc0");
        expect(during.iptables["iptables-nft"].some((l) => /^:KUBE-SERVICES /.test(l))).to.equal(true);
        expect(during.nftTables).to.include("table ip nat");
        expect(during.mounts.some((m) => m.startsWith("/run/agenc-real-node/"))).to.equal(true);
        expect(during.cgroups.length).to.be.greaterThan(0);
        expect(during.nodeProcesses.length).to.be.greaterThan(0);
        expect(during.sysctls["vm.overcommit_memory"]).to.equal("1");
        await cp.kubectl(["delete", "namespace", NS, "--wait=false"]);
        await node!.stop();
        node = undefined;
        const after = hostSnapshot();
        expect(after.sysctls).to.deep.equal(hostBefore.sysctls);
        expect(after.iptables).to.deep.equal(hostBefore.iptables);
        expect(after.nftTables).to.deep.equal(hostBefore.nftTables);
        expect(after.links).to.deep.equal(hostBefore.links);
        expect(after.routes).to.deep.equal(hostBefore.routes);
        expect(after.mounts).to.deep.equal(hostBefore.mounts);
        expect(after.cgroups).to.deep.equal(hostBefore.cgroups);
        expect(after.paths).to.deep.equal(hostBefore.paths);
        expect(after.nodeProcesses).to.deep.equal([]);
        const n = await cp.kubectl(["get", "node", REAL_NODE_NAME, "--ignore-not-found", "-o", "name"]);
        expect(n.trim()).to.equal("");
    });
});
