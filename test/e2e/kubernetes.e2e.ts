/**
 * The Kubernetes half under its real provider: the engine (the CLI built from Go modules, a file backend, a
 * passphrase) with pulumi-resource-kubernetes built from the Go module proxy (scripts/build-k8s-provider.sh), against
 * the test control plane (a real API server, controllers and kwok's simulated nodes: reference/controlPlane.ts).
 * The stacks are staging and production as shipped (Pulumi.<stack>.yaml), with what exists only here pointed at the
 * local reference workloads, as the local stack does: the gates, the preflight's chain and the bench read the
 * reference service; the admin token is brought by the operator (`speculation:adminToken`), so no random plugin is
 * needed.  Production's images are signed (it requires signed releases, docs/signing.md): its two images are the
 * local environment's, pushed to a loopback registry and signed with a key pair of the run, and its stack file's key
 * is replaced by that key.
 *
 * What only the real provider shows (the hand-written model in test/helpers/k8sProvider.ts cannot):
 *  - a second preview after an up plans nothing (the preflight read the Secret's `stringData` output, which the
 *    provider folds into `data`: absent, so unknown in every preview);
 *  - refresh finds no drift; a release edit updates in place and rolls the pods, deleting nothing with a fixed name;
 *  - the emergency rollback: the engine's own events order the EmergencyStop before any Deployment is replaced, and
 *    the API server's pod events show no last-known-good pod created while a release pod was left;
 *  - destroy leaves nothing of the stack in the cluster;
 *  - a release with an unsigned image digest is refused before any Kubernetes object exists.
 * The steps of each stack share one stack and run in order.
 */
import { expect } from "chai";
import { ChildProcess, execFileSync, spawn } from "child_process";
import { mkdtempSync, readFileSync } from "fs";
import { createServer, request as httpRequest } from "http";
import type { AddressInfo } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { ConfigMap, EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { LocalEnvironment, openStack, ROOT, startLocalEnvironment, toolchain } from "../../scripts/localStack";
import { artifacts, ControlPlane, startControlPlane } from "../../reference/controlPlane";
import { RunningSpeculationService, startSpeculationService } from "../../reference/speculationService";
import { pushImage } from "../../reference/signing";

const K8S_PROVIDER = path.join(ROOT, "scripts/build-k8s-provider.sh");

/** Pulumi.<stack>.yaml as shipped, with the run-time endpoints of the local environment and short bakes. */
function clusterConfig(env: LocalEnvironment, stack: "staging" | "production", namespace: string,
    edit: (c: Record<string, any>) => void = () => undefined): ConfigMap {
    const doc = parse(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, any> };
    const c: Record<string, any> = JSON.parse(JSON.stringify(doc.config));
    c["speculation:namespace"] = namespace;
    // Staging's bakes shortened to seconds; production keeps its own (this suite never raises it: the pack and the
    // schema hold production to hours).
    if (stack === "staging") c["speculation:canary"].steps = c["speculation:canary"].steps.map((s: { percentage: number }) => ({ percentage: s.percentage, bake: "3s" }));
    c["speculation:canary"].gate = {
        ...c["speculation:canary"].gate,
        serviceUrl: env.service.url, proofWorkerUrl: env.worker.url,
        prometheusUrl: env.monitoring.prometheusUrl, alertmanagerUrl: env.monitoring.alertmanagerUrl,
        pollInterval: "2s", timeout: "1s", deadlineSlack: "30s",
        ...(stack === "staging" ? { bakeMode: "watch" } : {}),
        artifactsDir: path.join(env.workDir, `artifacts/${stack}/gates`),
        revert: { watchdogActionUrl: `${env.monitoring.watchdogUrl}/alerts` },
    };
    c["speculation:bench"] = {
        ...(c["speculation:bench"] ?? {}),
        command: `npm run -s reference -- bench --url "$BENCH_TARGET_URL" --requests 2000 --concurrency 16`,
        minThroughputPerSecond: 50,
        // The bench is not what this suite tests: the widest spread still judged, so a busy machine is not inconclusive.
        maxSpread: 1,
        resultsDir: path.join(env.workDir, `artifacts/${stack}/benchmarks`),
    };
    if (c["speculation:preflight"]) c["speculation:preflight"] = { ...c["speculation:preflight"], chainRpcUrl: env.chain.url, timeout: "2s" };
    c["speculation:records"] = { artifactsDir: path.join(env.workDir, `artifacts/${stack}/releases`), pushgatewayUrl: env.monitoring.pushgatewayUrl };
    if (stack === "production" && env.signing) {
        // Signed releases: the images the run pushed and signed, verified against the run's key (loopback registry).
        const s = env.signing;
        c["speculation:release"] = { ...c["speculation:release"], images: { speculation: { ...s.images.speculation }, proofWorker: { ...s.images.proofWorker } } };
        c["speculation:signing"] = {
            required: true, publicKeys: [{ name: "release", pem: s.keys.pem }], registries: [{ host: s.registry.host, insecure: true }], cosign: s.tools.cosign,
        };
    }
    edit(c);
    const map: ConfigMap = {};
    for (const [k, v] of Object.entries(c)) map[k] = { value: typeof v === "string" ? v : JSON.stringify(v) };
    map["speculation:adminToken"] = { value: env.adminToken, secret: true };
    return map;
}

/** `kubectl get pods -w` in the background: every pod event the API server sends, in its order. */
function watchPods(cp: ControlPlane, bin: string, namespace: string): { events: { type: string; name: string; image: string }[]; stop: () => void } {
    const events: { type: string; name: string; image: string }[] = [];
    const child: ChildProcess = spawn(path.join(bin, "kubectl"), ["--kubeconfig", cp.kubeconfig, "-n", namespace, "get", "pods", "--watch", "--output-watch-events",
        "-o", "jsonpath={.type} {.object.metadata.name} {.object.spec.containers[0].image}{\"\\n\"}"], { stdio: ["ignore", "pipe", "inherit"] });
    let buffer = "";
    child.stdout!.on("data", (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const l of lines) {
            const [type, name, image] = l.trim().split(" ");
            if (type) events.push({ type, name, image });
        }
    });
    return { events, stop: () => child.kill("SIGTERM") };
}

/**
 * The primary Service as a stand-in for traffic: an HTTP proxy on loopback that forwards every request to the
 * reference service of the track the Service's selector names in the cluster right now (kwok's pods carry no
 * packets), so the gates reading the primary follow blue-green's switch as they would through the real Service.
 */
async function serviceProxy(cp: ControlPlane, namespace: string, service: string, byApp: Record<string, string>, fallback: string) {
    let target = fallback;
    let stopped = false;
    const follow = async () => {
        while (!stopped) {
            const out = await cp.kubectl(["get", "service", service, "-n", namespace, "--ignore-not-found", "-o", "jsonpath={.spec.selector.app}"]).catch(() => "");
            target = byApp[out.trim()] ?? fallback;
            await new Promise((r) => setTimeout(r, 250));
        }
    };
    void follow();
    const server = createServer((req, res) => {
        const up = new URL(target);
        const fwd = httpRequest({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
        });
        fwd.on("error", () => { res.writeHead(502); res.end(); });
        req.pipe(fwd);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, close: async () => { stopped = true; await new Promise((r) => server.close(r)); } };
}

/** Every object of the stack left in the namespace (the namespace itself included), and the stack's cluster-wide RBAC. */
async function leftovers(cp: ControlPlane, namespace: string): Promise<string[]> {
    const ns = await cp.kubectl(["get", "namespace", namespace, "--ignore-not-found", "-o", "name"]);
    const inNs = ns.trim() ? (await cp.kubectl(["get", "all,configmaps,secrets,ingresses,networkpolicies,poddisruptionbudgets,serviceaccounts,roles,rolebindings," +
        "servicemonitors,prometheusrules,alertmanagerconfigs", "-n", namespace, "-o", "name"])).split("\n").filter(Boolean)
        .filter((n) => !/^(configmap\/kube-root-ca\.crt|serviceaccount\/default)$/.test(n)) : [];
    const rbac = (await cp.kubectl(["get", "clusterroles,clusterrolebindings", "-o", "name"])).split("\n").filter((n) => n.includes(namespace));
    return [...(ns.trim() ? [ns.trim()] : []), ...inNs, ...rbac];
}

describe("the Kubernetes half under the real provider (pulumi-resource-kubernetes from Go modules)", function () {
    this.timeout(600_000);
    let cp: ControlPlane;
    let env: LocalEnvironment;
    let kubeBin: string;
    let logs = "";
    const log = (s: string) => { logs += s; };

    before(async function () {
        this.timeout(60 * 60_000); // cold: the provider and the control plane build from Go modules
        const binDir = toolchain();
        execFileSync("bash", [K8S_PROVIDER, binDir], { stdio: ["ignore", "ignore", "inherit"] });
        kubeBin = (await artifacts()).bin;
        cp = await startControlPlane();
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-k8s-")), binDir, nodes: 0, signing: true });
        // The engine and its plugins read the cluster from KUBECONFIG; the emergency stop runs the operator's kubectl.
        env.envVars.KUBECONFIG = cp.kubeconfig;
        env.envVars.PATH = `${kubeBin}:${process.env.PATH}`;
    });
    after(async () => {
        await env?.stop();
        await cp?.stop();
    });

    it("the provider plugin is the one built from the Go module proxy, beside the CLI", () => {
        const out = execFileSync("bash", [K8S_PROVIDER, env.binDir], { encoding: "utf8" }).trim().split("\n").pop()!;
        expect(out).to.equal(path.join(env.binDir, "pulumi-resource-kubernetes"));
    });

    describe("production", () => {
        const namespace = "agenc-production";
        let stack: Stack;
        const open = async (edit?: (c: Record<string, any>) => void) => {
            stack = await openStack(env, "production", clusterConfig(env, "production", namespace, edit));
            return stack;
        };

        it("an unsigned image digest is refused before any Kubernetes object exists", async () => {
            const s = env.signing!;
            const unsigned = await pushImage(s.tools, `${s.images.proofWorker.repository}:rebuilt`, "proof worker rebuilt by someone");
            await open((c) => { c["speculation:release"].images.proofWorker.digest = unsigned; });
            const err = await stack.up({ onOutput: log }).then(() => undefined, (e: Error) => e);
            expect(err, "an unsigned image was deployed").to.not.equal(undefined);
            expect(err!.message).to.include(`image proof-worker v1.2.3 ${s.images.proofWorker.repository}@${unsigned}: unsigned — no signature is stored for this digest`);
            expect(await leftovers(cp, namespace), "an object was created before the verification passed").to.deep.equal([]);
            const state = await stack.exportStack();
            expect((state.deployment.resources ?? []).filter((r: { type: string }) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers"))).to.deep.equal([]);
        });

        it("up at 0 %: every object created, the preflight passes", async () => {
            await open();
            const up = await stack.up({ onOutput: log });
            expect(up.summary.result).to.equal("succeeded");
            expect(up.outputs.preflightVerdict.value).to.equal("pass");
            expect(Object.keys(up.outputs.signatures.value).sort()).to.deep.equal(["proof-worker v1.2.3", "speculation v1.2.3"]);
            // The engine ran the provider as the version the SDK asks for (the build stamps it so).
            const sdk = JSON.parse(readFileSync(path.join(ROOT, "node_modules/@pulumi/kubernetes/package.json"), "utf8")).pulumi.version;
            const state = await stack.exportStack();
            const providers = state.deployment.resources.filter((r: { type: string }) => r.type === "pulumi:providers:kubernetes");
            expect(providers.map((p: { inputs: { version?: string } }) => p.inputs.version)).to.deep.equal([sdk]);
            const deployments = await cp.getJson(["get", "deployments", "-n", namespace, "-o", "json"]);
            expect(deployments.items.map((d: any) => d.metadata.name)).to.include.members(["agenc-speculation", "proof-workers"]);
        });

        it("a second preview plans nothing (the Secret's stringData output is never read)", async () => {
            const preview = await stack.preview({ onOutput: log, diff: true });
            const changes = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
            expect(changes, logs.slice(-4000)).to.deep.equal([]);
        });

        it("refresh finds no drift", async () => {
            const refresh = await stack.refresh({ onOutput: log });
            const changes = Object.entries(refresh.summary.resourceChanges ?? {}).filter(([op, n]) => op !== "same" && (n as number) > 0);
            expect(changes).to.deep.equal([]);
        });

        it("destroy leaves nothing of the stack in the cluster", async () => {
            await stack.destroy({ onOutput: log });
            expect(await leftovers(cp, namespace)).to.deep.equal([]);
        });
    });

    describe("staging", () => {
        const namespace = "agenc-staging";
        let stack: Stack;
        const open = async (edit?: (c: Record<string, any>) => void) => {
            stack = await openStack(env, "staging", clusterConfig(env, "staging", namespace, edit));
            return stack;
        };

        it("up at 0 %, then a preview that plans nothing", async () => {
            await open();
            const up = await stack.up({ onOutput: log });
            expect(up.summary.result).to.equal("succeeded");
            const preview = await stack.preview({ onOutput: log });
            const changes = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
            expect(changes).to.deep.equal([]);
        });

        it("a release edit updates the workloads in place and rolls their pods; nothing with a fixed name is deleted", async () => {
            const before = await cp.getJson(["get", "deployments", "-n", namespace, "-o", "json"]);
            const uids = Object.fromEntries(before.items.map((d: any) => [d.metadata.name, d.metadata.uid]));
            const ops: { op: string; urn: string }[] = [];
            await open((c) => { c["speculation:release"].version = "v1.2.4"; c["speculation:release"].previousVersion = "v1.2.3"; });
            const up = await stack.up({ onOutput: log, onEvent: (e: EngineEvent) => { if (e.resourcePreEvent) ops.push({ op: e.resourcePreEvent.metadata.op, urn: e.resourcePreEvent.metadata.urn }); } });
            expect(up.summary.result).to.equal("succeeded");
            expect(ops.filter((o) => /replace|delete/.test(o.op) && o.urn.includes("kubernetes:")), "deleted or replaced").to.deep.equal([]);
            const after = await cp.getJson(["get", "deployments", "-n", namespace, "-o", "json"]);
            for (const name of ["agenc-speculation", "proof-workers"]) {
                const d = after.items.find((x: any) => x.metadata.name === name);
                expect(d.metadata.uid, `${name}: the same Deployment`).to.equal(uids[name]);
                expect(d.spec.template.spec.containers[0].image, `${name} rolled to the release`).to.contain(":v1.2.4");
            }
        });

        it("a raise to the first stage (10 %): the gate passes against the reference service", async () => {
            await open((c) => { c["speculation:release"].version = "v1.2.4"; c["speculation:release"].previousVersion = "v1.2.3"; c["speculation:rolloutPercentage"] = 10; });
            const up = await stack.up({ onOutput: log });
            expect(up.summary.result).to.equal("succeeded");
            expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass"]);
            expect(env.service.state).to.include({ enabled: true, rolloutPercentage: 10 });
        });

        it("emergency rollback: the engine stops the release before replacing anything, and no last-known-good pod runs beside a release pod", async () => {
            const pods = watchPods(cp, kubeBin, namespace);
            const events: EngineEvent[] = [];
            try {
                await open((c) => {
                    c["speculation:release"].version = "v1.2.4"; c["speculation:release"].previousVersion = "v1.2.3";
                    c["speculation:rolloutPercentage"] = 0;
                    c["speculation:rollback"] = { mode: "emergency", lastKnownGood: "v1.2.1", stopTimeout: "2m" };
                });
                const up = await stack.up({ onOutput: log, onEvent: (e) => events.push(e) });
                expect(up.summary.result).to.equal("succeeded");
            } finally {
                pods.stop();
            }
            // The engine's order, from its own events: the stop's outputs before any Deployment's replacement starts.
            const seq = (pred: (e: EngineEvent) => boolean) => events.findIndex(pred);
            const stopDone = seq((e) => !!e.resOutputsEvent && e.resOutputsEvent.metadata.type.endsWith("agenc:EmergencyStop"));
            const firstReplace = seq((e) => !!e.resourcePreEvent && e.resourcePreEvent.metadata.type === "kubernetes:apps/v1:Deployment"
                && /replace|delete/.test(e.resourcePreEvent.metadata.op));
            expect(stopDone, "EmergencyStop ran").to.be.greaterThan(-1);
            expect(firstReplace, "the Deployments were replaced").to.be.greaterThan(-1);
            expect(stopDone, "the stop finished before the first Deployment replacement began").to.be.lessThan(firstReplace);
            // The API server's order: the first last-known-good pod is added after the last release pod is deleted.
            const lkgAdded = pods.events.findIndex((e) => e.type === "ADDED" && e.image?.includes(":v1.2.1"));
            const releaseDeleted = pods.events.map((e, i) => ({ ...e, i })).filter((e) => e.type === "DELETED" && e.image?.includes(":v1.2.4"));
            expect(lkgAdded, JSON.stringify(pods.events)).to.be.greaterThan(-1);
            expect(releaseDeleted.length, "release pods were deleted").to.be.greaterThan(0);
            expect(releaseDeleted.at(-1)!.i, JSON.stringify(pods.events)).to.be.lessThan(lkgAdded);
        });

        it("destroy leaves nothing of the stack in the cluster (custom resources and RBAC included)", async () => {
            await stack.destroy({ onOutput: log });
            expect(await leftovers(cp, namespace)).to.deep.equal([]);
        });
    });

    describe("the other shift modes (staging, a stack each)", () => {
        let track: RunningSpeculationService;
        let blue: RunningSpeculationService;
        before(async () => {
            // The new track the gates judge (canary or green), and blue-green's blue at the previous version.
            track = await startSpeculationService({ adminToken: env.adminToken, version: "v1.2.4", tickMs: 20, operationsPerSecond: 5000 });
            blue = await startSpeculationService({ adminToken: env.adminToken, version: "v1.2.3", tickMs: 20, operationsPerSecond: 5000 });
        });
        after(async () => { await track?.close(); await blue?.close(); });
        const release = (c: Record<string, any>) => { c["speculation:release"].version = "v1.2.4"; c["speculation:release"].previousVersion = "v1.2.3"; };
        const noBench = (c: Record<string, any>) => { c["speculation:bench"] = { ...c["speculation:bench"], enabled: false }; };

        it("ingress-weight: a raise to 10 % creates the canary track and its weighted Ingress, and its gate passes", async () => {
            const namespace = "agenc-staging"; // the schema ties staging to its namespace: each stack destroys before the next
            const edit = (pct: number) => (c: Record<string, any>) => {
                release(c); noBench(c);
                c["speculation:rolloutPercentage"] = pct;
                c["speculation:canary"].shiftMode = "ingress-weight";
                c["speculation:canary"].gate = { ...c["speculation:canary"].gate, canaryUrl: track.url, timeout: "1s" };
            };
            const stack = await openStack(env, "staging-iw", clusterConfig(env, "staging", namespace, edit(10)), true);
            const up = await stack.up({ onOutput: log });
            expect(up.summary.result).to.equal("succeeded");
            expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass"]);
            const ingresses = await cp.getJson(["get", "ingresses", "-n", namespace, "-o", "json"]);
            const canary = ingresses.items.find((i: any) => i.metadata.annotations?.["nginx.ingress.kubernetes.io/canary"] === "true");
            expect(canary, "the canary Ingress").to.not.equal(undefined);
            expect(canary.metadata.annotations["nginx.ingress.kubernetes.io/canary-weight"]).to.equal("10");
            const canaryDeployment = await cp.getJson(["get", "deployment", "agenc-speculation-canary", "-n", namespace, "-o", "json"]);
            expect(canaryDeployment.spec.template.spec.containers[0].image).to.contain(":v1.2.4");
            await stack.destroy({ onOutput: log });
            expect(await leftovers(cp, namespace)).to.deep.equal([]);
        });

        it("blue-green: to 100 % the primary Service selects green, and back below 100 % it selects blue again", async () => {
            const namespace = "agenc-staging";
            const primary = await serviceProxy(cp, namespace, "agenc-speculation", { "agenc-speculation": blue.url, "agenc-speculation-green": track.url }, blue.url);
            const edit = (pct: number) => (c: Record<string, any>) => {
                release(c); noBench(c);
                c["speculation:rolloutPercentage"] = pct;
                c["speculation:canary"].shiftMode = "blue-green";
                c["speculation:canary"].blueGreen = { greenUrl: track.url };
                c["speculation:canary"].gate = { ...c["speculation:canary"].gate, serviceUrl: primary.url };
            };
            const selected = async () => (await cp.getJson(["get", "service", "agenc-speculation", "-n", namespace, "-o", "json"])).spec.selector.app;
            try {
                let stack = await openStack(env, "staging-bg", clusterConfig(env, "staging", namespace, edit(100)), true);
                let up = await stack.up({ onOutput: log });
                expect(up.summary.result).to.equal("succeeded");
                expect(await selected(), "at 100 % the primary Service selects green").to.equal("agenc-speculation-green");
                stack = await openStack(env, "staging-bg", clusterConfig(env, "staging", namespace, edit(50)));
                up = await stack.up({ onOutput: log });
                expect(up.summary.result).to.equal("succeeded");
                expect(await selected(), "below 100 % it selects blue again").to.equal("agenc-speculation");
                const green = await cp.getJson(["get", "deployment", "agenc-speculation-green", "-n", namespace, "-o", "json"]);
                expect(green.spec.template.spec.containers[0].image, "green is kept").to.contain(":v1.2.4");
                await stack.destroy({ onOutput: log });
                expect(await leftovers(cp, namespace)).to.deep.equal([]);
            } finally {
                await primary.close();
            }
        });
    });
});
