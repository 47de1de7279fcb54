/**
 * A real Kubernetes control plane on loopback for the tests: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok (simulated nodes and pods — nothing runs in a container), built from Go modules by
 * scripts/build-k8s.sh (cached, keyed by version).
 *
 * One control plane per test run: `controlPlane()` starts it on first use and hands every later caller the same one;
 * the root hook in test/helpers/rootHooks.ts stops it (every process it started, by PID) when mocha finishes.  A
 * suite that never calls `controlPlane()` costs nothing.
 *
 * What it gives a test: a kubeconfig (admin token, group system:masters), `kubectl`, and these facts —
 *  - Pod Security admission is on (the apiserver's default plugin set): a namespace labelled
 *    `pod-security.kubernetes.io/enforce=restricted` rejects pods that are not restricted;
 *  - prometheus-operator's CRDs are installed and Established (ServiceMonitor, PrometheusRule, AlertmanagerConfig, …);
 *  - three fake Nodes (zones zone-a, zone-b, zone-c; 1000 CPU / 4 TiB / 1000 pods each) that kwok keeps Ready; kwok
 *    marks scheduled pods Running and Ready at once (readiness probes are not executed), gives them IPs, and lets
 *    Deployments reach Available and EndpointSlices fill in;
 *  - the controllers of kube-controller-manager (Deployments, ReplicaSets, EndpointSlices, PodDisruptionBudgets,
 *    namespaces, service-account tokens, garbage collection).
 *
 * Build and start-up are logged to stderr with their times.  Logs of every process are in `<dir>/logs/`.
 */
import { ChildProcess, execFile, execFileSync, spawn } from "child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "fs";
import { request } from "https";
import { networkInterfaces, tmpdir } from "os";
import * as path from "path";
import { freePort } from "./ports";

export const ROOT = path.resolve(__dirname, "..");

export interface ControlPlane {
    /** Path of a kubeconfig for the admin user (a token in group system:masters). */
    kubeconfig: string;
    /** https://127.0.0.1:<port> */
    server: string;
    /** The folder holding the certificates, data and logs (removed on stop unless KEEP_CONTROL_PLANE=1). */
    dir: string;
    /** Kubernetes version the apiserver reports, e.g. v1.36.3. */
    version: string;
    /** Names of the fake nodes. */
    nodes: string[];
    /** Runs kubectl against this control plane; rejects with kubectl's stderr when it exits non-zero. */
    kubectl(args: string[], input?: string): Promise<string>;
    /** The same, resolving with stderr too (warnings: Pod Security, deprecations). */
    kubectlWithWarnings(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
    /** kubectl ... -o json, parsed. */
    getJson<T = any>(args: string[]): Promise<T>;
    /** Stops every process this control plane started, by PID (SIGTERM, then SIGKILL after 5 s). */
    stop(): Promise<void>;
}

export interface Artifacts {
    /** Folder with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok. */
    bin: string;
    /** prometheus-operator's CRD manifests. */
    crds: string;
    /** kwok's Stage objects (node initialise and heartbeat, pod ready, complete, delete). */
    kwokStages: string;
}

function log(message: string): void {
    process.stderr.write(`[control-plane] ${message}\n`);
}

/** Builds (cached) or finds the binaries: runs scripts/build-k8s.sh, whose last line is the versioned folder. */
export async function artifacts(): Promise<Artifacts> {
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
        const child = spawn("bash", [path.join(ROOT, "scripts", "build-k8s.sh")], { stdio: ["ignore", "pipe", "inherit"] });
        let text = "";
        child.stdout.on("data", (d) => { text += d; });
        child.on("error", reject);
        // "close", not "exit": a process can exit before its stdout has been read, and then the folder would be lost
        // ("spawn bin/kubectl ENOENT" in kubernetes.e2e, 2026-12-08).
        child.on("close", (code) => (code === 0 ? resolve(text) : reject(new Error(`scripts/build-k8s.sh exited with ${code}`))));
    });
    const dir = out.trim().split("\n").pop() ?? "";
    if (!path.isAbsolute(dir)) throw new Error(`scripts/build-k8s.sh printed no folder as its last line (got ${JSON.stringify(out.slice(-200))})`);
    const seconds = (Date.now() - started) / 1000;
    if (seconds > 2) log(`build-k8s.sh took ${seconds.toFixed(1)} s`);
    return { bin: path.join(dir, "bin"), crds: path.join(dir, "crds"), kwokStages: path.join(dir, "kwok-stages.yaml") };
}

function openssl(args: string[], cwd: string): void {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * The machine's first non-loopback IPv4 address: what a real node (scripts/real-node.sh) registers as its InternalIP
 * and what the API server advertises, so that pods and the kubelet can reach it.  127.0.0.1 when there is none.
 */
export function hostAddress(): string {
    for (const addrs of Object.values(networkInterfaces())) {
        for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
    }
    return "127.0.0.1";
}

/**
 * A CA, a serving certificate for 127.0.0.1/localhost (and the machine's address and the `kubernetes` Service's
 * first address, for a real node and its pods) signed by it, the client certificate the API server shows kubelets
 * (logs, exec; group system:masters), and the service-account signing key.
 */
function makeCertificates(dir: string, address: string): void {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=agenc-test-ca",
        "-keyout", "ca.key", "-out", "ca.crt"], dir);
    writeFileSync(path.join(dir, "serving.ext"), [
        "basicConstraints=CA:FALSE",
        "keyUsage=digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        `subjectAltName=IP:127.0.0.1,IP:${address},IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc`,
    ].join("\n"));
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver", "-keyout", "serving.key", "-out", "serving.csr"], dir);
    openssl(["x509", "-req", "-in", "serving.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "serving.ext", "-out", "serving.crt"], dir);
    writeFileSync(path.join(dir, "client.ext"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/O=system:masters/CN=kube-apiserver-kubelet-client",
        "-keyout", "kubelet-client.key", "-out", "kubelet-client.csr"], dir);
    openssl(["x509", "-req", "-in", "kubelet-client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "client.ext", "-out", "kubelet-client.crt"], dir);
    openssl(["genrsa", "-out", "sa.key", "2048"], dir);
    openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

/** GET over https with the test CA (and the admin token when given); resolves with the status code, never rejects. */
function httpsStatus(url: string, ca: Buffer | undefined, token?: string): Promise<number> {
    return new Promise((resolve) => {
        const req = request(url, {
            method: "GET", ca, rejectUnauthorized: ca !== undefined, timeout: 2000,
            headers: token ? { authorization: `Bearer ${token}` } : {},
        }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on("error", () => resolve(0));
        req.on("timeout", () => { req.destroy(); resolve(0); });
        req.end();
    });
}

async function httpStatus(url: string): Promise<number> {
    try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return res.status;
    } catch {
        return 0;
    }
}

/**
 * Polls `probe` until it returns true; fails with `what` (and the tail of the log) past the deadline, or at once if
 * the process it waits for has exited.
 */
async function until(what: string, probe: () => Promise<boolean>, opts: { timeoutMs: number; proc?: Proc }): Promise<void> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
        if (await probe()) return;
        if (opts.proc && opts.proc.child.exitCode !== null) {
            throw new Error(`${what}: ${opts.proc.name} exited with ${opts.proc.child.exitCode}\n${tail(opts.proc.logFile)}`);
        }
        if (Date.now() > deadline) throw new Error(`${what}: not within ${opts.timeoutMs} ms${opts.proc ? `\n${tail(opts.proc.logFile)}` : ""}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

function tail(file: string, lines = 30): string {
    try {
        return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
        return "";
    }
}

interface Proc { name: string; child: ChildProcess; logFile: string }

/** PIDs of every control-plane process alive in this test process, killed synchronously if the process exits early. */
const alive = new Set<number>();
process.on("exit", () => {
    for (const pid of alive) {
        try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
    }
});

function startProcess(dir: string, name: string, binary: string, args: string[]): Proc {
    const logFile = path.join(dir, "logs", `${name}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn(binary, args, { cwd: dir, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    if (child.pid) alive.add(child.pid);
    child.on("exit", () => { if (child.pid) alive.delete(child.pid); });
    return { name, child, logFile };
}

async function stopProcess(proc: Proc): Promise<void> {
    const { child } = proc;
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(child.pid, "SIGTERM");
    const timer = setTimeout(() => { try { process.kill(child.pid!, "SIGKILL"); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
}

function fakeNode(name: string, zone: string): Record<string, unknown> {
    const capacity = { cpu: "1000", memory: "4Ti", pods: "1000", "ephemeral-storage": "10Ti" };
    return {
        apiVersion: "v1", kind: "Node",
        metadata: {
            name,
            annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            labels: {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/zone": zone, type: "kwok",
            },
        },
        status: { capacity, allocatable: capacity },
    };
}

export interface StartOptions {
    /** Fake nodes, one per zone (default 3: zone-a, zone-b, zone-c). */
    nodes?: number;
}

/** Starts a control plane of its own (most tests want the shared `controlPlane()` instead). */
export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
    const art = await artifacts();
    const bin = (name: string) => path.join(art.bin, name);
    const started = Date.now();
    const dir = mkdtempSync(path.join(tmpdir(), "agenc-k8s-"));
    mkdirSync(path.join(dir, "logs"));
    const procs: Proc[] = [];
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        // Reverse order: kwok and the controllers first, etcd last.
        for (const p of [...procs].reverse()) await stopProcess(p);
        if (process.env.KEEP_CONTROL_PLANE !== "1") rmSync(dir, { recursive: true, force: true });
    };
    try {
        const address = hostAddress();
        makeCertificates(dir, address);
        const ca = readFileSync(path.join(dir, "ca.crt"));
        const token = execFileSync("openssl", ["rand", "-hex", "24"], { encoding: "utf8" }).trim();
        writeFileSync(path.join(dir, "tokens.csv"), `${token},admin,admin,"system:masters"\n`);

        const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await Promise.all(
            Array.from({ length: 6 }, () => freePort()));
        const etcdUrl = `http://127.0.0.1:${etcdClient}`;
        const etcd = startProcess(dir, "etcd", bin("etcd"), [
            "--name", "agenc-test", "--data-dir", path.join(dir, "etcd"),
            "--listen-client-urls", etcdUrl, "--advertise-client-urls", etcdUrl,
            "--listen-peer-urls", `http://127.0.0.1:${etcdPeer}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${etcdPeer}`,
            "--initial-cluster", `agenc-test=http://127.0.0.1:${etcdPeer}`,
            "--unsafe-no-fsync", "--quota-backend-bytes", String(2 * 1024 ** 3), "--log-level", "warn",
        ]);
        procs.push(etcd);
        await until("etcd healthy", async () => (await httpStatus(`${etcdUrl}/health`)) === 200, { timeoutMs: 60_000, proc: etcd });

        const server = `https://127.0.0.1:${apiPort}`;
        const apiserver = startProcess(dir, "kube-apiserver", bin("kube-apiserver"), [
            `--etcd-servers=${etcdUrl}`,
            // On every address and advertising the machine's, so that a real node's pods reach it (the kubeconfig
            // keeps 127.0.0.1); kubelets are reached by their InternalIP, with a client certificate they trust.
            `--secure-port=${apiPort}`, "--bind-address=0.0.0.0", `--advertise-address=${address}`,
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--kubelet-client-certificate=kubelet-client.crt", "--kubelet-client-key=kubelet-client.key",
            "--tls-cert-file=serving.crt", "--tls-private-key-file=serving.key", "--client-ca-file=ca.crt",
            "--token-auth-file=tokens.csv", "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=sa.pub", "--service-account-signing-key-file=sa.key",
            // The `kubernetes` Service's endpoint is the advertised address (pods on a real node reach the API server
            // through 10.96.0.1); on a machine with loopback only, nothing to reconcile.
            "--service-cluster-ip-range=10.96.0.0/16", `--endpoint-reconciler-type=${address === "127.0.0.1" ? "none" : "lease"}`,
            "--allow-privileged=false", "--profiling=false", "--v=0",
        ]);
        procs.push(apiserver);
        await until("kube-apiserver ready", async () => (await httpsStatus(`${server}/readyz`, ca, token)) === 200,
            { timeoutMs: 120_000, proc: apiserver });

        const kubeconfig = path.join(dir, "kubeconfig");
        writeFileSync(kubeconfig, JSON.stringify({
            apiVersion: "v1", kind: "Config", "current-context": "agenc-test",
            clusters: [{ name: "agenc-test", cluster: { server, "certificate-authority": path.join(dir, "ca.crt") } }],
            users: [{ name: "admin", user: { token } }],
            contexts: [{ name: "agenc-test", context: { cluster: "agenc-test", user: "admin" } }],
        }, null, 2));

        const kubectlWithWarnings = (args: string[], input?: string) => new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
            const child = execFile(bin("kubectl"), ["--kubeconfig", kubeconfig, ...args], { maxBuffer: 64 * 1024 * 1024 },
                (err, stdout, stderr) => {
                    if (err) reject(Object.assign(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || err.message}`), { stderr, stdout }));
                    else resolve({ stdout, stderr });
                });
            if (input !== undefined) child.stdin!.end(input);
        });
        const kubectl = async (args: string[], input?: string) => (await kubectlWithWarnings(args, input)).stdout;
        const getJson = async <T>(args: string[]) => JSON.parse(await kubectl([...args, "-o", "json"])) as T;

        const kcm = startProcess(dir, "kube-controller-manager", bin("kube-controller-manager"), [
            `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
            `--secure-port=${kcmPort}`, "--bind-address=127.0.0.1", `--cert-dir=${path.join(dir, "kcm-certs")}`,
            "--leader-elect=false", "--service-account-private-key-file=sa.key", "--root-ca-file=ca.crt",
            "--use-service-account-credentials=false", "--allocate-node-cidrs=false",
            "--node-monitor-grace-period=60s", "--profiling=false",
        ]);
        const scheduler = startProcess(dir, "kube-scheduler", bin("kube-scheduler"), [
            `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
            `--secure-port=${schedPort}`, "--bind-address=127.0.0.1", `--cert-dir=${path.join(dir, "scheduler-certs")}`,
            "--leader-elect=false", "--profiling=false",
        ]);
        const kwok = startProcess(dir, "kwok", bin("kwok"), [
            `--kubeconfig=${kubeconfig}`, `--config=${art.kwokStages}`,
            "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-ip=127.0.0.1", "--cidr=10.0.0.1/16", "--node-lease-duration-seconds=40",
            `--server-address=127.0.0.1:${kwokPort}`,
        ]);
        procs.push(kcm, scheduler, kwok);

        // CRDs while the controllers come up.
        const crdFiles = readdirSync(art.crds).filter((f) => f.endsWith(".yaml")).map((f) => path.join(art.crds, f));
        await kubectl(["apply", "--server-side", "--field-manager=agenc-test-harness", ...crdFiles.flatMap((f) => ["-f", f])]);
        const nodeCount = options.nodes ?? 3;
        const zones = ["zone-a", "zone-b", "zone-c", "zone-d", "zone-e"];
        const nodes = Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i}`);
        await kubectl(["apply", "--server-side", "--field-manager=agenc-test-harness", "-f", "-"], JSON.stringify({
            apiVersion: "v1", kind: "List", items: nodes.map((n, i) => fakeNode(n, zones[i % zones.length])),
        }));
        await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
        await until("kube-controller-manager healthy", async () => (await httpsStatus(`https://127.0.0.1:${kcmPort}/healthz`, undefined)) === 200,
            { timeoutMs: 60_000, proc: kcm });
        await until("kube-scheduler healthy", async () => (await httpsStatus(`https://127.0.0.1:${schedPort}/healthz`, undefined)) === 200,
            { timeoutMs: 60_000, proc: scheduler });
        await until("kwok nodes Ready", async () => {
            if (kwok.child.exitCode !== null) return false;
            const list = await getJson<{ items: any[] }>(["get", "nodes"]).catch(() => ({ items: [] }));
            return list.items.length === nodeCount && list.items.every((n) =>
                (n.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"));
        }, { timeoutMs: 60_000, proc: kwok });
        // The default namespace's ServiceAccount appears once the controller manager runs: a sign it is working.
        await until("ServiceAccount controller running", async () =>
            (await kubectl(["get", "serviceaccount", "default", "-n", "default", "-o", "name"]).catch(() => "")).trim() !== "",
        { timeoutMs: 60_000, proc: kcm });

        const version = JSON.parse(await kubectl(["version", "-o", "json"])).serverVersion.gitVersion as string;
        log(`${version} up on ${server} in ${((Date.now() - started) / 1000).toFixed(1)} s (etcd, kube-apiserver, ` +
            `kube-controller-manager, kube-scheduler, kwok with ${nodeCount} nodes, ${crdFiles.length} CRDs) in ${dir}`);
        return { kubeconfig, server, dir, version, nodes, kubectl, kubectlWithWarnings, getJson, stop };
    } catch (err) {
        await stop().catch(() => undefined);
        throw err;
    }
}

let shared: Promise<ControlPlane> | undefined;

/** The control plane of this test run: started on first use, stopped by the root hook when mocha ends. */
export function controlPlane(): Promise<ControlPlane> {
    shared ??= startControlPlane();
    return shared;
}

/** Stops the shared control plane if this run started one (the root hook calls this). */
export async function stopSharedControlPlane(): Promise<void> {
    if (!shared) return;
    const cp = await shared.catch(() => undefined);
    shared = undefined;
    await cp?.stop();
}
