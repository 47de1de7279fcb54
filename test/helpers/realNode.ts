/**
 * What the real node (reference/realNode.ts, scripts/real-node.sh) may change on the host, read in one snapshot, so a
 * test can check that `down` put everything back: the sysctls the kubelet, the bridge and kube-proxy set, the
 * iptables of every backend, network links and routes, mounts, cgroups, host paths and the node's processes.
 */
import { execFileSync, spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";
import * as path from "path";
import { ROOT } from "../../reference/realNode";

export const WATCHED_SYSCTLS = ["vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops", "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
    "net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.netfilter.nf_conntrack_tcp_timeout_close_wait"];

export interface HostSnapshot {
    sysctls: Record<string, string>;
    /** Per backend (iptables-nft, ip6tables-nft, iptables-legacy, ip6tables-legacy): every table, chain and rule,
     * counters dropped. */
    iptables: Record<string, string[]>;
    /** nf_tables tables (`nft list tables`): iptables-nft creates them, real-node.sh down deletes the new empty ones. */
    nftTables: string[];
    links: string[];
    routes: string[];
    mounts: string[];
    cgroups: string[];
    paths: Record<string, boolean>;
    /** Processes whose command line names the real node's run folder. */
    nodeProcesses: string[];
}

const RUN_DIR = "/run/agenc-real-node";

function sh(cmd: string, args: string[]): string {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    return r.status === 0 ? r.stdout : "";
}

/** iptables-save's output without counters and comments. */
export function normaliseIptables(dump: string): string[] {
    return dump.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))
        .map((l) => l.replace(/\s*\[\d+:\d+\]$/, "").replace(/^\[\d+:\d+\]\s*/, ""));
}

export function hostSnapshot(): HostSnapshot {
    const sysctls = Object.fromEntries(WATCHED_SYSCTLS.map((s) => {
        const file = `/proc/sys/${s.replace(/\./g, "/")}`;
        return [s, existsSync(file) ? readFileSync(file, "utf8").trim() : "(absent)"];
    }));
    const iptables = Object.fromEntries(["iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy"]
        .map((tool) => [tool, normaliseIptables(sh(`${tool}-save`, []))]));
    const nftTables = sh("nft", ["list", "tables"]).split("\n").filter(Boolean).sort();
    const links = sh("ip", ["-o", "link", "show"]).split("\n").filter(Boolean)
        .map((l) => l.split(":")[1].trim().split("@")[0]).sort();
    const routes = ["-4", "-6"].flatMap((f) => sh("ip", [f, "route", "show", "table", "all"]).split("\n").filter(Boolean)).sort();
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean)
        .map((l) => { const f = l.split(" "); return `${f[4]} ${f[f.indexOf("-") + 1]}`; }).sort();
    const cgroups = readdirSync("/sys/fs/cgroup").flatMap((h) => {
        try {
            return readdirSync(path.join("/sys/fs/cgroup", h)).filter((d) => d.startsWith("agenc-real-node")).map((d) => `${h}/${d}`);
        } catch { return []; }
    }).sort();
    const paths = Object.fromEntries(["/var/log/containers", "/var/log/pods", "/run/containerd", RUN_DIR, `${RUN_DIR}.host-state`]
        .map((p) => [p, existsSync(p)]));
    const nodeProcesses = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
        try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
            return cmd.includes(RUN_DIR) ? [`${pid} ${cmd.slice(0, 120)}`] : [];
        } catch { return []; }
    });
    return { sysctls, iptables, nftTables, links, routes, mounts, cgroups, paths, nodeProcesses };
}

/** The image of the reference workloads, built and imported into the running node: REPO@sha256:… */
export function buildWorkloadImage(): string {
    const out = execFileSync("bash", [path.join(ROOT, "scripts", "build-images.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    return out.trim().split("\n").pop()!;
}
