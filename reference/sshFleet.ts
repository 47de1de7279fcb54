/**
 * Real SSH nodes on loopback, for the tests, the benchmark and rehearsing a node rollout: one Debian sshd per node,
 * each with its own host key and port, in its own mount namespace where the node's folders are mounted at the
 * seed's paths (/opt/alys, /var/backups/alys) — so every node has the same absolute paths, like real machines.
 * Each runs a small `alys` node program that serves /health and answers --version, restarted by a script that
 * really stops and starts it.  NODE_HOME and NODE_PORT (its health port) are set in every SSH session.
 *
 * The login: sshd runs every command through the user's login shell, and Debian's bash sources ~/.bashrc for
 * commands sshd starts.  The nodes log in as root; this machine's /root/.bashrc runs `pyenv init` (~200 ms idle,
 * ~500 ms loaded, per shell).  A real node's deploy user has a skeleton .bashrc that returns at once when not
 * interactive, so by default each node gets its own HOME with Debian's /etc/skel files, like a fresh deploy user;
 * `login: "machine"` keeps root's HOME (the benchmark shows both).
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "fs";
import { connect as tcpConnect } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { NodeAddress } from "../lib/nodes/ssh";
import { freePort } from "./ports";
import { requireRoot } from "./root";

/**
 * The node program: a small sh launcher (like a real binary, `--version` answers at once, without starting a
 * runtime) around a Node HTTP server that serves /health.
 */
export function alysProgram(version: string, healthy = true, padBytes = 0): string {
    return [
        "#!/bin/sh",
        `if [ "$1" = "--version" ]; then echo ${JSON.stringify(`alys ${version}`)}; exit 0; fi`,
        "exec node - \"$@\" <<'ALYS_JS'",
        `const VERSION = ${JSON.stringify(version)};`,
        `const HEALTHY = ${healthy};`,
        "require('http').createServer((req, res) => {",
        "  res.writeHead(req.url === '/health' && HEALTHY ? 200 : 503, { 'content-type': 'application/json' });",
        "  res.end(JSON.stringify({ status: HEALTHY ? 'healthy' : 'unhealthy', version: VERSION }));",
        "}).listen(Number(process.env.NODE_PORT), '127.0.0.1');",
        // Padding makes an upload take long enough to be interrupted.
        ...(padBytes > 0 ? [`// ${"x".repeat(padBytes)}`] : []),
        "ALYS_JS",
        "",
    ].join("\n");
}

/** Writes the node program as an executable file: the "binary" a rollout ships. */
export function writeAlysBinary(file: string, version: string, healthy = true, padBytes = 0): string {
    writeFileSync(file, alysProgram(version, healthy, padBytes));
    chmodSync(file, 0o755);
    return file;
}

const RESTART = `#!/bin/sh
# Stops the running alys (waiting until it is gone) and starts the installed binary, detached from the session.
cd "$NODE_HOME"
if [ -f run.pid ]; then
  pid="$(cat run.pid)"
  kill "$pid" 2>/dev/null || true
  # Gone means exited: a zombie waiting for this sandbox's init to reap it counts as gone.
  while kill -0 "$pid" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do sleep 0.02; done
fi
setsid nohup /opt/alys/bin/alys serve > "$NODE_HOME/alys.log" 2>&1 < /dev/null &
echo $! > run.pid
`;

export interface TestNode extends NodeAddress {
    home: string;
    httpPort: number;
    sshd: ChildProcess;
}

export interface TestFleet {
    nodes: TestNode[];
    privateKey: string;
    /** Another host key, for the wrong-key test. */
    strangerHostKey: string;
    dir: string;
    /** What the rollout needs to reach these nodes (paths expand in each node's shell). */
    paths: { installPath: string; backupPath: string; restartCommand: string; healthCommand: string; versionCommand: string; serviceCheckCommand: string };
    installedVersion(node: TestNode): string;
    healthy(node: TestNode): Promise<boolean>;
    backups(node: TestNode): string[];
    latestBackup(node: TestNode): string | undefined;
    backupVersion(node: TestNode, backup: string): string;
    dropSessions(node: TestNode): void;
    /**
     * The node crashes (power lost): every process in its mount namespace is killed at once — sshd, its sessions and
     * whatever they run, the node program.  Its files stay as they were at that instant.
     */
    crash(node: TestNode): void;
    /** The node boots again after a crash: a fresh namespace with the same folders, its program started from what is installed, then sshd. */
    boot(node: TestNode): Promise<void>;
    stop(): Promise<void>;
}

function keygen(file: string): string {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file]);
    return readFileSync(`${file}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
    // Generous: several sshds starting on a loaded machine; a dead sshd is reported at once (exitCode).
    const until = Date.now() + 60_000;
    return new Promise((resolve, reject) => {
        const attempt = () => {
            if (child.exitCode !== null) return reject(new Error(`sshd exited: ${log()}`));
            const s = tcpConnect(port, "127.0.0.1");
            s.once("connect", () => { s.destroy(); resolve(); });
            s.once("error", () => {
                s.destroy();
                if (Date.now() > until) reject(new Error(`sshd not listening on ${port}: ${log()}`));
                else setTimeout(attempt, 50);
            });
        };
        attempt();
    });
}

/**
 * Boots one node: a private mount namespace where its folders appear at the seed's paths, its program started from
 * what is installed (restart.sh), then its sshd in the foreground; the node program and everything sshd starts share
 * the namespace.  Returns once sshd listens.
 */
async function bootNode(home: string, port: number, httpPort: number): Promise<ChildProcess> {
    let log = "";
    const boot = [
        "set -e", "mount --make-rprivate /", "mkdir -p /opt/alys /var/backups/alys",
        `mount --bind '${home}/opt/alys' /opt/alys`, `mount --bind '${home}/backups' /var/backups/alys`,
        `NODE_HOME='${home}' NODE_PORT=${httpPort} sh '${home}/restart.sh'`,
        `exec /usr/sbin/sshd -D -e -f '${path.join(home, "sshd_config")}'`,
    ].join("\n");
    const sshd = spawn("unshare", ["--mount", "sh", "-c", boot], { stdio: ["ignore", "ignore", "pipe"] });
    sshd.stderr!.on("data", (c) => (log += c));
    await waitForPort(port, sshd, () => log);
    return sshd;
}

/** The mount namespace of a process (the target of /proc/<pid>/ns/mnt), or undefined once it is gone. */
function mountNamespaceOf(pid: number): string | undefined {
    try { return readlinkSync(`/proc/${pid}/ns/mnt`); } catch { return undefined; }
}

/** Every live process in that mount namespace (zombies excluded: they are already dead). */
function pidsInMountNamespace(ns: string): number[] {
    return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
        if (mountNamespaceOf(pid) !== ns) return false;
        try {
            const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
            return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
        } catch { return false; }
    });
}

export interface FleetOptions {
    /** "node" (default): each node's own HOME with /etc/skel's files; "machine": this machine's root HOME. */
    login?: "node" | "machine";
}

export async function startFleet(count: number, version = "v1.0.0", opts: FleetOptions = {}): Promise<TestFleet> {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-"));
    mkdirSync("/run/sshd", { recursive: true });
    keygen(path.join(dir, "client"));
    writeFileSync(path.join(dir, "authorized_keys"), readFileSync(path.join(dir, "client.pub")));
    const stranger = keygen(path.join(dir, "stranger"));
    const nodes: TestNode[] = [];
    for (let i = 1; i <= count; i++) {
        const name = `node-${i}`;
        const home = path.join(dir, name);
        for (const d of ["opt/alys/bin", "opt/alys/config", "backups/rollback"]) mkdirSync(path.join(home, d), { recursive: true });
        const hostKey = keygen(path.join(home, "hostkey"));
        if (opts.login !== "machine") {
            for (const f of [".bashrc", ".profile"]) {
                try { copyFileSync(path.join("/etc/skel", f), path.join(home, f)); } catch { /* no skeleton: no rc file */ }
            }
        }
        writeFileSync(path.join(home, "opt/alys/bin/alys"), alysProgram(version));
        chmodSync(path.join(home, "opt/alys/bin/alys"), 0o755);
        writeFileSync(path.join(home, "opt/alys/config/alys.toml"), `[node]\nname = "${name}"\nversion = "${version}"\n`);
        writeFileSync(path.join(home, "restart.sh"), RESTART);
        chmodSync(path.join(home, "restart.sh"), 0o755);
        const port = await freePort();
        const httpPort = await freePort();
        writeFileSync(path.join(home, "sshd_config"), [
            `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${path.join(home, "hostkey")}`, `PidFile ${path.join(home, "sshd.pid")}`,
            `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`, "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", `SetEnv NODE_HOME=${home} NODE_PORT=${httpPort}${opts.login === "machine" ? "" : ` HOME=${home}`}`,
            "Subsystem sftp internal-sftp", "LogLevel ERROR", "MaxStartups 100:30:200", "MaxSessions 50", "",
        ].join("\n"));
        requireRoot("an SSH test node (sshd in its own mount namespace)");
        const sshd = await bootNode(home, port, httpPort);
        nodes.push({ name, host: "127.0.0.1", port, user: "root", hostKey, home, httpPort, sshd });
    }
    const fleet: TestFleet = {
        nodes, dir, strangerHostKey: stranger, privateKey: readFileSync(path.join(dir, "client"), "utf8"),
        paths: {
            installPath: "/opt/alys",
            backupPath: "/var/backups/alys/rollback",
            restartCommand: "sh \"$NODE_HOME/restart.sh\"",
            // The running program's own answer carries the version the rollout expects (ROLLOUT_VERSION, empty outside a
            // swap or restore): a node still running the old program is not healthy on the new version.
            healthCommand: "curl -sf \"http://localhost:$NODE_PORT/health\" | grep -q \"\\\"version\\\":\\\"${ROLLOUT_VERSION:-}\"",
            versionCommand: "/opt/alys/bin/alys --version",
            serviceCheckCommand: "test -x \"$NODE_HOME/restart.sh\"",
        },
        installedVersion: (n) => execFileSync(path.join(n.home, "opt/alys/bin/alys"), ["--version"]).toString().trim().replace(/^alys /, ""),
        healthy: async (n) => {
            try {
                return (await fetch(`http://127.0.0.1:${n.httpPort}/health`, { signal: AbortSignal.timeout(10_000) })).ok;
            } catch { return false; }
        },
        backups: (n) => readdirSync(path.join(n.home, "backups/rollback")).filter((b) => b !== "latest" && !b.startsWith(".")).sort(),
        // The link is absolute inside the node (/var/backups/alys/rollback/…): read it, do not follow it.
        latestBackup: (n) => {
            try { return path.basename(readlinkSync(path.join(n.home, "backups/rollback/latest"))); } catch { return undefined; }
        },
        backupVersion: (n, b) => execFileSync(path.join(n.home, "backups/rollback", b, "bin/alys"), ["--version"]).toString().trim().replace(/^alys /, ""),
        // Kills the node's per-connection sshd processes: every open session drops, the listener stays up.
        dropSessions: (n) => { try { execFileSync("pkill", ["-KILL", "-P", String(n.sshd.pid)]); } catch { /* none */ } },
        crash: (n) => {
            const ns = mountNamespaceOf(n.sshd.pid!);
            if (!ns) throw new Error(`${n.name}: its sshd (pid ${n.sshd.pid}) is gone: nothing to crash`);
            // Until none is left: a session may fork while the first ones die.
            for (let round = 0; round < 50; round++) {
                const pids = pidsInMountNamespace(ns);
                if (pids.length === 0) return;
                for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
            }
            throw new Error(`${n.name}: processes left in its namespace after 50 rounds of SIGKILL`);
        },
        boot: async (n) => {
            // Pids do not survive a reboot: the program's pid file would name another process.
            rmSync(path.join(n.home, "run.pid"), { force: true });
            n.sshd = await bootNode(n.home, n.port, n.httpPort);
        },
        stop: async () => {
            for (const n of nodes) {
                try { execFileSync("sh", ["-c", `kill "$(cat '${n.home}/run.pid')" 2>/dev/null || true`]); } catch { /* gone */ }
                n.sshd.kill("SIGTERM");
            }
        },
    };
    return fleet;
}
