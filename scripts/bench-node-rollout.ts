/**
 * Fleet benchmark of the node rollout over local sshd nodes (Debian sshd on loopback, pinned host keys), zero grace
 * and pause: wall time against the floor — the nodes' own restart + health time, wave by wave (a wave is up to
 * `forks` nodes of a batch at once; a wave of k nodes is measured restarting k nodes at once, since the simulated
 * nodes share this machine's CPUs) — so the rollout's own overhead shows, per node and per wave.
 *
 *   npm run bench:nodes                         # 10 and 50 nodes, every plan
 *   npm run bench:nodes -- --nodes 10,50,200    # add 200 (≈ 8 GB: every node runs its own node program)
 *   npm run bench:nodes -- --login machine      # nodes log in with this machine's root HOME (its .bashrc)
 *   npm run bench:nodes -- --exec-cost          # only: what one exec channel costs, and why
 *
 * Prints one JSON line per run and a table at the end.
 */
import { mkdtempSync } from "fs";
import { loadavg, tmpdir } from "os";
import * as path from "path";
import { nodeAddress } from "../lib/nodes/address";
import { planBatches, SerialEntry } from "../lib/nodes/plan";
import { RolloutSpec, runRollout } from "../lib/nodes/rollout";
import { connect } from "../lib/nodes/ssh";
import { FleetOptions, startFleet, TestFleet, writeAlysBinary } from "../reference/sshFleet";

const PLANS: { serial: SerialEntry[]; forks: number[] }[] = [
    { serial: [1], forks: [1] },
    { serial: [1, "25%"], forks: [1, 10, 50] },
    { serial: ["100%"], forks: [1, 10, 50] },
];
const POLL_SECONDS = 0.1;

function arg(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * The floor of one wave of `size` nodes: restart them all at once and poll each until healthy, timed on the nodes
 * (no SSH round trip in it).  On one machine the simulated nodes share its CPUs, so a wave of 10 costs more than one
 * node; a real fleet's nodes do not share, and there the floor of a wave is one node's.
 */
async function waveSeconds(fleet: TestFleet, size: number, offset = 0): Promise<number> {
    const sessions = await Promise.all(fleet.nodes.slice(offset, offset + size).map((n) => connect(n, fleet.privateKey)));
    try {
        const t0 = Date.now();
        // Bounded: a simulated node can lose its health port to another process on this shared machine while it
        // restarts; that measurement is dropped (NaN) instead of hanging the benchmark.
        const codes = await Promise.all(sessions.map((s) => s.run([
            `( ${fleet.paths.restartCommand} ) >/dev/null 2>&1`,
            `i=0; until ( ${fleet.paths.healthCommand} ) >/dev/null 2>&1; do i=$((i+1)); [ "$i" -gt 600 ] && exit 1; sleep ${POLL_SECONDS}; done`,
        ].join("\n"), 300_000).then((r) => r.code)));
        return codes.every((c) => c === 0) ? (Date.now() - t0) / 1000 : NaN;
    } finally { for (const s of sessions) s.close(); }
}

/** The wave sizes of a plan: each batch in rounds of at most `forks` nodes. */
function waveSizes(serial: SerialEntry[], nodes: number, forks: number): number[] {
    return planBatches(serial, nodes).flatMap((b) => Array.from({ length: Math.ceil(b / forks) }, (_, i) => Math.min(forks, b - i * forks)));
}

/** What one SSH exec costs here, split into sshd + login shell and the .bashrc the shell sources. */
async function execCost(login: FleetOptions["login"]): Promise<Record<string, number | string>> {
    const fleet = await startFleet(1, "v1.0.0", { login });
    try {
        const s = await connect(fleet.nodes[0], fleet.privateKey);
        try {
            const execMs: number[] = [];
            const runMs: number[] = [];
            for (let i = 0; i < 10; i++) {
                let t = Date.now(); await s.exec("true"); execMs.push(Date.now() - t);
                t = Date.now(); await s.run("true"); runMs.push(Date.now() - t);
            }
            const rc = await s.run('s=$(date +%s%N); [ -f ~/.bashrc ] && . ~/.bashrc >/dev/null 2>&1; echo $(( ($(date +%s%N) - s) / 1000000 ))');
            const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
            return { login: login ?? "node", execMedianMs: median(execMs), shellRunMedianMs: median(runMs), bashrcMs: Number(rc.stdout.trim()), load1: +loadavg()[0].toFixed(1) };
        } finally { s.close(); }
    } finally { await fleet.stop(); }
}

interface Row { nodes: number; serial: string; forks: number; waves: number; wallS: number; floorS: number; overheadPerNodeS: number; overheadPerWaveS: number; ownS: number; load1: number }

async function bench(count: number, login: FleetOptions["login"]): Promise<Row[]> {
    const fleet = await startFleet(count, "v1.0.0", { login });
    stopping = fleet;
    const rows: Row[] = [];
    try {
        // The median of several measurements per wave size, measured once per size: a single node on up to 9
        // different nodes, a larger wave 3 times.
        const floors = new Map<number, number>();
        const floorOf = async (size: number) => {
            if (!floors.has(size)) {
                const xs: number[] = [];
                const tries = size === 1 ? Math.min(9, count) : 3;
                for (let i = 0; i < tries; i++) xs.push(await waveSeconds(fleet, size, size === 1 ? i : 0));
                const ok = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
                floors.set(size, ok.length > 0 ? ok[Math.floor(ok.length / 2)] : NaN);
            }
            return floors.get(size)!;
        };
        const own = await floorOf(1);
        const work = mkdtempSync(path.join(tmpdir(), "bench-rollout-"));
        let version = 1;
        for (const plan of PLANS) {
            for (const forks of plan.forks) {
                // Each run ships a new version over the last one, so every node really restarts.
                version++;
                const v = `v${version}.0.0`;
                const spec: RolloutSpec = {
                    version: v, nodes: fleet.nodes.map(nodeAddress), privateKey: fleet.privateKey,
                    binary: writeAlysBinary(path.join(work, `alys-${v}`), v), ...fleet.paths, serviceName: "alys",
                    healthRetries: 600, healthIntervalSeconds: POLL_SECONDS, firstNodeGraceSeconds: 0, nodeGraceSeconds: 0, pauseSeconds: 0,
                    minFreeDiskGb: 0.001, serial: plan.serial, forks, maxFailPercentage: 0,
                    journalPath: path.join(work, `journal-${v}.json`), deploymentLog: path.join(work, "deployments.log"), operator: "bench",
                };
                const t0 = Date.now();
                await runRollout(spec);
                const wallS = (Date.now() - t0) / 1000;
                const sizes = waveSizes(plan.serial, count, forks);
                const w = sizes.length;
                let floorS = 0;
                for (const size of sizes) floorS += await floorOf(size);
                const row: Row = {
                    nodes: count, serial: JSON.stringify(plan.serial), forks, waves: w, wallS: +wallS.toFixed(2), floorS: +floorS.toFixed(2),
                    overheadPerNodeS: +((wallS - floorS) / count).toFixed(3), overheadPerWaveS: +((wallS - floorS) / w).toFixed(3),
                    ownS: +own.toFixed(3), load1: +loadavg()[0].toFixed(1),
                };
                console.log(JSON.stringify(row));
                rows.push(row);
            }
        }
    } finally {
        await fleet.stop();
    }
    return rows;
}

let stopping: TestFleet | undefined;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => { void (stopping?.stop() ?? Promise.resolve()).finally(() => process.exit(130)); });
}

(async () => {
    const login = (arg("login") as FleetOptions["login"]) ?? "node";
    console.log(JSON.stringify({ execCost: await execCost("machine") }));
    console.log(JSON.stringify({ execCost: await execCost("node") }));
    if (process.argv.includes("--exec-cost")) return;
    const counts = (arg("nodes") ?? "10,50").split(",").map(Number);
    const rows: Row[] = [];
    for (const n of counts) rows.push(...(await bench(n, login)));
    console.log(`\nlogin: ${login}; grace 0, pause 0, health poll ${POLL_SECONDS} s\n`);
    console.log("| nodes | serial | forks | waves | wall s | floor s | overhead / node s | overhead / wave s | own restart+health s | load |");
    console.log("|---|---|---|---|---|---|---|---|---|---|");
    for (const r of rows) console.log(`| ${r.nodes} | \`${r.serial}\` | ${r.forks} | ${r.waves} | ${r.wallS} | ${r.floorS} | ${r.overheadPerNodeS} | ${r.overheadPerWaveS} | ${r.ownS} | ${r.load1} |`);
})().catch((e) => { console.error(e); process.exit(1); });
