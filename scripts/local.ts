/**
 * The main job on the embedded local default:  npm run local [-- --to 50] [-- --stay] [-- --kubernetes]
 * Builds the toolchain and the signing tools (cached), starts the reference workloads, two local SSH nodes and a
 * loopback registry holding the release signed with a fresh cosign key pair, creates a fresh `local`
 * stack in a folder of its own (.pulumi-local/runs/<UTC time>: file backend, passphrase, journal, logs, gate records;
 * .pulumi-local/latest points at it; no earlier run's folder is touched) and runs `pulumi up` with the policy pack, stage by
 * stage up to --to (default: the first stage, 10 %).  --stay keeps the workloads running afterwards and prints the
 * environment for `pulumi refresh` / `pulumi destroy` / `pulumi stack` from another shell.
 * --kubernetes also deploys the Kubernetes half, under the real kubernetes provider (built from Go modules, cached),
 * onto the embedded control plane (reference/controlPlane.ts: a real API server and controllers, simulated nodes),
 * beside the reference workloads the gates judge, and prints the objects it created and how to kubectl them.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { parseArgs } from "util";
import { artifacts, ControlPlane, startControlPlane } from "../reference/controlPlane";
import { localConfig, openStack, policyConfig, POLICY_PACK, ROOT, startLocalEnvironment, toolchain, waitForBakes } from "./localStack";
import { lockedRuns, newRunDir } from "./localRuns";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { to: { type: "string", default: "10" }, stay: { type: "boolean", default: false }, nodes: { type: "string", default: "2" },
        kubernetes: { type: "boolean", default: false } } });
    const target = Number(values.to);
    const steps = [10, 50, 100].filter((p) => p <= target);
    if (steps.length === 0 || ![10, 50, 100].includes(target)) throw new Error(`--to: must be one of 10, 50, 100 (the local plan's steps), not ${values.to}`);
    const binDir = toolchain();
    // Every run is a fresh rehearsal in a folder of its own; an earlier run's evidence is never deleted (issue 15).
    const localRoot = path.join(ROOT, ".pulumi-local");
    for (const { run, locks } of lockedRuns(localRoot)) {
        console.log(`[local] an earlier run's stack is still locked (a killed pulumi up?); its state, journal and records are kept in ${run}` +
            ` (lock: ${path.relative(run, locks[0])}). To release it: PULUMI_BACKEND_URL=file://${run}/state` +
            ` PULUMI_CONFIG_PASSPHRASE_FILE=${run}/passphrase PULUMI_HOME=${run}/home pulumi cancel --stack local --yes`);
    }
    const run = newRunDir(localRoot);
    console.log(`[local] run ${run.id}: state and evidence in ${run.dir}`);
    // The release is signed on a loopback registry (its two images and the node binary, cosign key pair, offline) and the
    // stack verifies it before anything runs it: the `signatures` step (docs/signing.md).
    const env = await startLocalEnvironment({ workDir: run.dir, binDir, nodes: Number(values.nodes), signing: true, log: console.log });
    const cluster = values.kubernetes ? await startCluster(binDir, env.envVars) : undefined;
    console.log(`[local] speculation service ${env.service.url}, proof worker ${env.worker.url}, ${env.fleet?.nodes.length ?? 0} SSH node(s)`);
    console.log(`[local] prometheus ${env.monitoring.prometheusUrl}, alertmanager ${env.monitoring.alertmanagerUrl}, watchdog ${env.monitoring.watchdogUrl}`);
    console.log(`[local] registry ${env.signing!.registry.host}: the release signed with ${env.signing!.keys.pub}; cosign ${env.signing!.tools.cosign}`);
    try {
        for (const [i, pct] of steps.entries()) {
            const stack = await openStack(env, "local", localConfig(env, (c) => {
                c["speculation:rolloutPercentage"] = pct;
                if (cluster) c["speculation:kubernetes"] = { enabled: true };
            }), i === 0);
            // Window bake mode: the next stage is judged on the previous one's whole bake, so wait for it to end.
            if (i > 0) await waitForBakes(stack);
            console.log(`[local] pulumi up: rolloutPercentage ${pct}`);
            const result = await stack.up({ onOutput: (s) => process.stdout.write(s), policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig("local")] });
            console.log(`[local] ${result.summary.result}: live rollout ${env.service.state.rolloutPercentage} %, gates ${JSON.stringify(result.outputs.gateVerdicts?.value)}, nodes ${JSON.stringify(result.outputs.nodeDeployment?.value)}`);
            console.log(`[local] stages ${JSON.stringify(result.outputs.stages?.value)}`);
            console.log(`[local] signatures ${JSON.stringify(result.outputs.signatures?.value)}`);
            if (cluster) await printObjects(cluster, LOCAL_NAMESPACE);
            if (pct === 100) {
                // As the cluster's watchdog pods roll with the sentinel probes on once the plan is at 100 %.
                await env.monitoring.startSentinels();
                console.log(`[local] sentinel probes on: ${env.monitoring.watchdogUrl}/sentinel (SpeculationSentinelFailing pulls the kill switch)`);
            }
        }
        if (values.stay) {
            console.log("[local] workloads keep running (Ctrl-C stops them). From another shell:");
            console.log(Object.entries(env.envVars).map(([k, v]) => `  export ${k}='${v}'`).join("\n"));
            console.log(`  cd ${env.workDir} && pulumi stack --stack local && pulumi refresh --stack local`);
            await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
        }
    } finally {
        await env.stop();
        await cluster?.stop();
    }
}

/**
 * --kubernetes: the provider plugin beside the CLI (scripts/build-k8s-provider.sh) and the embedded control plane;
 * the engine and the emergency stop reach it through KUBECONFIG and kubectl on PATH.
 */
async function startCluster(binDir: string, envVars: Record<string, string>): Promise<ControlPlane> {
    execFileSync("bash", [path.join(ROOT, "scripts/build-k8s-provider.sh"), binDir], { stdio: ["ignore", "ignore", "inherit"] });
    const cp = await startControlPlane();
    const kubeBin = (await artifacts()).bin;
    envVars.KUBECONFIG = cp.kubeconfig;
    envVars.PATH = `${kubeBin}:${process.env.PATH}`;
    console.log(`[local] Kubernetes ${cp.version} on ${cp.server} (simulated nodes ${cp.nodes.join(", ")}); kubeconfig ${cp.kubeconfig}`);
    return cp;
}

/** The local stack's namespace (config.namespace is unset: agenc-<environment>). */
const LOCAL_NAMESPACE = "agenc-local";

/** What the stack created in the cluster, and how to look at it. */
async function printObjects(cp: ControlPlane, namespace: string): Promise<void> {
    const objects = await cp.kubectl(["get", "deployments,services,configmaps,secrets,networkpolicies,poddisruptionbudgets,servicemonitors,prometheusrules", "-n", namespace, "-o", "name"]);
    const lines = objects.split("\n").filter(Boolean);
    console.log(`[local] ${lines.length} objects in namespace ${namespace}:\n${lines.map((l) => `  ${l}`).join("\n")}`);
    console.log(`[local] to look at them: export KUBECONFIG=${cp.kubeconfig} PATH=${(await artifacts()).bin}:$PATH; kubectl -n ${namespace} get pods` +
        (cp.dir ? " (the cluster stops with this run; --stay keeps it)" : ""));
}

main().catch((e) => {
    console.error(`[local] ${(e as Error).message}`);
    process.exit(1);
});
