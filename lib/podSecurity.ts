/**
 * Pod Security Standards, `restricted` profile (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
 * as a pure check of a pod spec — plus this project's one addition, a read-only root filesystem.  The policy pack
 * runs it on every workload before anything changes; the real API server's Pod Security admission is the other
 * judge (test/k8s/).
 */

/** Pod Security levels, weakest first (the namespace label values). */
export const LEVELS = ["privileged", "baseline", "restricted"] as const;
export type PodSecurityLevel = typeof LEVELS[number];

export const ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";

/** Volume types the restricted profile allows. */
const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/** Every way this pod spec breaks `restricted` (or has a writable root filesystem); empty when it complies. */
export function restrictedViolations(pod: Record<string, any> | undefined): string[] {
    if (!pod) return [];
    const out: string[] = [];
    const podCtx = pod.securityContext ?? {};
    for (const host of ["hostNetwork", "hostPID", "hostIPC"]) if (pod[host] === true) out.push(`sets ${host}`);
    for (const v of pod.volumes ?? []) {
        const type = Object.keys(v ?? {}).find((k) => k !== "name");
        if (type && !RESTRICTED_VOLUMES.includes(type)) out.push(`volume ${v.name} is of type ${type}`);
    }
    if (podCtx.runAsUser === 0) out.push("pod runs as UID 0");
    const containers = [...(pod.containers ?? []), ...(pod.initContainers ?? []), ...(pod.ephemeralContainers ?? [])];
    for (const c of containers) {
        const ctx = c?.securityContext ?? {};
        const name = `container ${c?.name ?? "(unnamed)"}`;
        if ((ctx.runAsNonRoot ?? podCtx.runAsNonRoot) !== true) out.push(`${name} does not set runAsNonRoot: true`);
        if (ctx.runAsUser === 0) out.push(`${name} runs as UID 0`);
        const seccomp = ctx.seccompProfile?.type ?? podCtx.seccompProfile?.type;
        if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${name} has seccompProfile ${seccomp ?? "unset"}; RuntimeDefault or Localhost`);
        if (ctx.allowPrivilegeEscalation !== false) out.push(`${name} does not set allowPrivilegeEscalation: false`);
        if (ctx.privileged === true) out.push(`${name} is privileged`);
        const drop: string[] = ctx.capabilities?.drop ?? [];
        if (!drop.includes("ALL")) out.push(`${name} does not drop ALL capabilities`);
        const added = (ctx.capabilities?.add ?? []).filter((cap: string) => cap !== "NET_BIND_SERVICE");
        if (added.length > 0) out.push(`${name} adds capabilities ${added.join(", ")}`);
        if (ctx.readOnlyRootFilesystem !== true) out.push(`${name} does not set readOnlyRootFilesystem: true`);
        for (const p of c?.ports ?? []) if (p?.hostPort) out.push(`${name} uses hostPort ${p.hostPort}`);
    }
    return out;
}

/** Is `level` at least as strict as `minimum`? */
export function atLeast(level: string | undefined, minimum: PodSecurityLevel): boolean {
    const i = LEVELS.indexOf(level as PodSecurityLevel);
    return i >= 0 && i >= LEVELS.indexOf(minimum);
}
