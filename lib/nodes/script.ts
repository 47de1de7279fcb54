/**
 * The shell text the node rollout runs on each node (lib/nodes/rollout.ts sends it): pure functions of the spec and
 * of what the pre-check found, so every command can be read and tested without a node.  Each step is one command,
 * and its end is a resume point: the command writes the node's own state (nodeState.ts) as it goes, through the
 * `state` writer the caller passes (shell text for the node's state at a step).
 *
 * Paths and commands run in the node's shell inside double quotes, so they may use the node's environment.
 */
import type { NodeStatus } from "./plan";
import type { NodeState } from "./nodeState";
import { shellLiteral } from "./nodeState";
import { nodeSignatureCleanup, nodeVerifyScript } from "../signatures/node";

/** The keys a node checks the uploaded binary's signature with before the swap (signed releases, docs/signing.md). */
export interface NodeSignatureCheck {
    keys: { name: string; fingerprint: string }[];
}

/** The spec fields the scripts use; lib/nodes/rollout.ts's RolloutSpec extends it. */
export interface ScriptSpec {
    version: string;
    installPath: string;
    backupPath: string;
    serviceName: string;
    restartCommand: string;
    healthCommand: string;
    versionCommand: string;
    serviceCheckCommand: string;
    healthRetries: number;
    healthIntervalSeconds: number;
    nodeGraceSeconds: number;
}

/** Shell text that writes the node's state at `step` (a caller's closure over its journal: see rollout.ts). */
export type StateWriter = (step: NodeStatus, extra?: Partial<NodeState>) => string;

/** A path for the node's shell: double-quoted, so `$HOME` and the like still expand. */
export const q = (path: string) => `"${path}"`;

/** Polls the node's health on the node itself (one command, not one round trip per poll); `failCode` when it never passes. */
export function healthLoop(spec: Pick<ScriptSpec, "healthCommand" | "healthRetries" | "healthIntervalSeconds">, failCode: number): string {
    return [
        "i=0",
        `while ! ( ${spec.healthCommand} ) >/dev/null 2>&1; do`,
        `  i=$((i+1)); if [ "$i" -ge ${spec.healthRetries} ]; then echo "not healthy after ${spec.healthRetries} checks, ${spec.healthIntervalSeconds} s apart"; exit ${failCode}; fi`,
        `  sleep ${spec.healthIntervalSeconds}`,
        "done",
    ].join("\n");
}

/** The deadline of a restart-and-health command: generous on purpose (the health verdict is the retry count). */
export function healthBudgetMs(spec: Pick<ScriptSpec, "healthRetries" | "healthIntervalSeconds">, grace: number): number {
    return (grace + spec.healthRetries * (spec.healthIntervalSeconds + 30)) * 1000 + 120_000;
}

/** The remote paths of a node, before its shell expanded them. */
export interface NodePaths { bin: string; config: string; state: string; lock: string }

/**
 * The pre-check: install folder, free disk, service, version before, the paths as the node's shell expands them,
 * the node's own state, and the fleet lock taken (a folder renamed into place with its owner inside: atomic, never
 * half-made) or, if held, who holds it.  Read-only but for the lock.  Its answer is read by parsePrecheck.
 */
export function precheckScript(spec: ScriptSpec, paths: NodePaths, owner: string, nowMs: number, signed = false): string {
    const I = spec.installPath;
    return [
        `test -d ${q(I)} || { echo "ERR install folder ${I} does not exist"; exit 10; }`,
        // A signed release is verified on the node before the swap: a node that cannot is refused before any is touched.
        ...(signed ? [`command -v openssl >/dev/null 2>&1 || { echo "ERR openssl is not installed: this node cannot verify the binary's signature before the swap"; exit 13; }`] : []),
        `echo "FREEKB $(df -Pk ${q(I)} | awk 'NR==2 {print $4}')"`,
        `svc=$( ( ${spec.serviceCheckCommand} ) 2>&1 ) || { echo "ERR service ${spec.serviceName} check failed: $(printf '%s' "$svc" | tail -c 300)"; exit 11; }`,
        `echo "VERSION $( ( ${spec.versionCommand} ) 2>&1 | head -n 1)"`,
        `printf 'PATHS\\t%s\\t%s\\t%s\\n' ${q(paths.bin)} ${q(paths.config)} ${q(spec.backupPath)}`,
        `mkdir -p ${q(spec.backupPath)} || { echo "ERR cannot create ${spec.backupPath}"; exit 12; }`,
        `echo "STATE $(tr -d '\\n' < ${q(paths.state)} 2>/dev/null)"`,
        `t=${q(paths.lock)}.$$; rm -rf "$t"; mkdir "$t" && printf '%s' ${shellLiteral(owner)} > "$t/owner" && echo ${nowMs} > "$t/heartbeat"`,
        `if mv -T "$t" ${q(paths.lock)} 2>/dev/null; then echo "LOCK acquired"; else rm -rf "$t"; echo "LOCK held"`,
        `  echo "OWNER $(tr -d '\\n' < ${q(paths.lock + "/owner")} 2>/dev/null)"; echo "BEAT $(cat ${q(paths.lock + "/heartbeat")} 2>/dev/null)"; fi`,
    ].join("\n");
}

/** What the pre-check printed, by tag. */
export interface PrecheckAnswer {
    freeKb: number;
    /** Paths as the node's shell expanded them. */
    bin: string;
    config?: string;
    backupPath: string;
    state?: string;
    versionBefore: string;
    lock: "acquired" | "held" | undefined;
    owner?: string;
    beat?: string;
}

export function parsePrecheck(out: string): PrecheckAnswer {
    const lines = out.split("\n");
    const get = (tag: string) => lines.map((l) => (l.startsWith(`${tag} `) ? l.slice(tag.length + 1) : undefined)).find((v) => v !== undefined);
    const [, bin, config, backupPath] = (lines.find((l) => l.startsWith("PATHS\t")) ?? "").split("\t");
    return {
        freeKb: Number(get("FREEKB")), bin, config: config || undefined, backupPath, state: get("STATE"), versionBefore: get("VERSION") ?? "",
        lock: get("LOCK") as PrecheckAnswer["lock"], owner: get("OWNER"), beat: get("BEAT"),
    };
}

/** Takes over a stale lock: this run's owner written atomically, the heartbeat fresh. */
export function lockTakeoverScript(lock: string, owner: string, nowMs: number): string {
    return [
        `printf '%s' ${shellLiteral(owner)} > ${q(lock + "/owner.tmp")} && mv -f ${q(lock + "/owner.tmp")} ${q(lock + "/owner")}`,
        `echo ${nowMs} > ${q(lock + "/heartbeat")}`,
    ].join(" && ");
}

/** Releases the lock only if this run (`token`) still holds it; `concludeState`, when given, first concludes the node's state. */
export function releaseScript(lock: string, token: string, concludeState?: string): string {
    return [
        ...(concludeState ? [`${concludeState} || true`] : []),
        `if grep -q ${shellLiteral(token)} ${q(lock + "/owner")} 2>/dev/null; then rm -rf ${q(lock)}; fi`,
    ].join("\n");
}

/**
 * The backup: the install folder copied into `.partial` and renamed, so a kill mid-copy never leaves a half backup
 * under the final name; a backup this rollout already finished (killed before the journal said so) is kept.
 */
export function backupScript(installPath: string, backup: string, backupRoot: string, state: StateWriter): string {
    return [
        `if [ ! -d ${q(backup)} ]; then rm -rf ${q(backup + ".partial")} && mkdir -p ${q(backup + ".partial")} &&`,
        `  cp -a ${q(installPath + "/.")} ${q(backup + ".partial/")} && mv ${q(backup + ".partial")} ${q(backup)}; fi &&`,
        `ln -sfn ${q(backup)} ${q(backupRoot + "/latest")} &&`,
        state("backed-up"),
    ].join("\n");
}

/**
 * From the swap to the verdict in one command: rename (atomic; `swap` only — a resumed restart skips it), say so on
 * the node (prints SWITCHED), restart, grace, health poll, version check; the node's state says how it ended.  The
 * restart and the health command see ROLLOUT_VERSION, the release the node must now run, so a health command can
 * check the running program's answer, not only the file on disk (unset everywhere else: the pre-check, a restore).
 * A signed release (`verify`) first checks the uploaded binary's signature on the node (lib/signatures/node.ts): a
 * refusal removes the uploads and leaves the node's state `refused`, before anything is renamed or restarted.
 * Exit codes: 30 rename, 31 restart, 32 health, 33 version, 34 signature refused, 35 openssl missing.
 */
export function switchScript(spec: ScriptSpec, node: { bin: string; config?: string }, swap: boolean, grace: number, state: StateWriter,
    verify?: NodeSignatureCheck): string {
    return [
        ...(swap && verify ? [nodeVerifyScript(`${node.bin}.new`, verify.keys, [
            ...(node.config ? [`rm -f ${q(node.config + ".new")}`] : []), state("refused"),
        ].join("; "))] : []),
        ...(swap ? [
            `mv -f ${q(node.bin + ".new")} ${q(node.bin)} ${node.config ? `&& mv -f ${q(node.config + ".new")} ${q(node.config)}` : ""} || { echo "atomic rename failed"; exit 30; }`,
            ...(verify ? [nodeSignatureCleanup(`${node.bin}.new`, verify.keys.length)] : []),
            state("switched"),
            `echo "SWITCHED"`,
        ] : []),
        // The health command may check the running program's own version against this (a restart that did not
        // restart leaves the old program answering healthy while the new binary's --version passes).
        `export ROLLOUT_VERSION=${shellLiteral(spec.version)}`,
        `out=$( ( ${spec.restartCommand} ) 2>&1 ) || { echo "restart failed: $out"; ${state("failed")}; exit 31; }`,
        `sleep ${grace}`,
        healthLoop(spec, 32).replace(/exit 32/, `${state("failed")}; exit 32`),
        `v=$( ( ${spec.versionCommand} ) 2>&1 | head -n 1)`,
        `case "$v" in *${shellLiteral(spec.version)}*) ;; *) echo "reports \\"$v\\", not ${spec.version}"; ${state("failed")}; exit 33;; esac`,
        state("healthy", { version: spec.version }),
    ].join("\n");
}

/**
 * Puts a node back on its backup: copy back, restart, grace, health poll, and (when known) the version it ran before.
 * Exit codes: 40 backup missing, 41 copy, 42 restart, 43 health, 44 version.
 */
export function restoreScript(spec: ScriptSpec, backup: string, versionBefore: string | undefined, state: StateWriter): string {
    const I = spec.installPath;
    return [
        `test -d ${q(backup)} || { echo "its backup ${backup} is missing"; exit 40; }`,
        `rm -f ${q(I)}/bin/*.new ${q(I)}/config/*.new`,
        `cp -a ${q(backup + "/.")} ${q(I + "/")} || { echo "copying the backup back failed"; exit 41; }`,
        // The version before is the old binary's --version line, not a release tag: no running-version check here.
        "unset ROLLOUT_VERSION",
        `out=$( ( ${spec.restartCommand} ) 2>&1 ) || { echo "restart failed: $out"; exit 42; }`,
        `sleep ${spec.nodeGraceSeconds}`,
        healthLoop(spec, 43),
        `v=$( ( ${spec.versionCommand} ) 2>&1 | head -n 1)`,
        ...(versionBefore ? [`[ "$v" = ${shellLiteral(versionBefore)} ] || { echo "restored but reports \\"$v\\", not \\"${versionBefore.replace(/["`$\\]/g, "")}\\""; exit 44; }`] : []),
        state("restored", { version: versionBefore }),
    ].join("\n");
}

/** The node's health command, its output's tail and its exit code (an acknowledged failed restore must pass it). */
export function healthCheckScript(spec: Pick<ScriptSpec, "healthCommand">): string {
    return `out=$( ( ${spec.healthCommand} ) 2>&1 ); rc=$?; printf '%s' "$out" | tail -c 300; exit $rc`;
}
