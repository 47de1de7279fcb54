/**
 * The kube-score findings this stack keeps on purpose, each with its reason: the one list that
 * test/lint/kubeScore.int.test.ts checks the rendered manifests of every mode against (any other WARNING, any
 * CRITICAL, any other `kube-score/ignore` fails it, and so does an entry here that no mode produces any more) and that
 * docs/kube-score.md shows (keptFindingsTable; test/docs/kubeScore.test.ts fails when the page and this list differ).
 */

/** How a kept finding shows in kube-score's report. */
export type KeptGrade =
    /** Reported as a WARNING. */
    | "WARNING"
    /** Skipped through the object's `kube-score/ignore` annotation (lib/k8s.ts lintAnnotations), where it would be CRITICAL. */
    | "IGNORED";

export interface KeptFinding {
    /** kube-score's check id (`kube-score list`). */
    check: string;
    grade: KeptGrade;
    /** The Deployments (metadata.name) it is kept for; no other object may have it. */
    objects: string[];
    /** Why the stack keeps it, for the operator reading docs/kube-score.md. */
    reason: string;
}

/** The kube-score version the list was made with (scripts/versions.env KUBE_SCORE_VERSION must equal it). */
export const KUBE_SCORE_LIST_VERSION = "1.20.0";

const WORKLOADS = ["agenc-speculation", "agenc-speculation-canary", "agenc-speculation-green", "proof-workers"];

export const KEPT_FINDINGS: readonly KeptFinding[] = [
    {
        check: "container-image-pull-policy",
        grade: "IGNORED",
        objects: [...WORKLOADS, "speculation-watchdog"],
        reason: "Only where every image of the Deployment is pinned by digest (production's release images, the watchdog's "
            + "stock Node image): those pull `IfNotPresent`. A digest names exactly one image, so `Always` would only add the "
            + "registry to every pod start: a pod restarted during a registry outage, in the middle of an emergency rollback, "
            + "would not start. Tag-pinned images (staging, standalone monitoring) pull `Always` and pass the check.",
    },
    {
        check: "deployment-has-host-podantiaffinity",
        grade: "WARNING",
        objects: [...WORKLOADS, "speculation-watchdog", "grafana"],
        reason: "Every replicated Deployment spreads its pods with topologySpreadConstraints (`hardening.topologySpread`: "
            + "maxSkew 1 over kubernetes.io/hostname, DoNotSchedule by default), which kube-score's "
            + "pod-topology-spread-constraints check validates. A podAntiAffinity on top would be a second rule for the same "
            + "thing; a required one would also leave a rolling update's surge pod Pending on a cluster with as many nodes as replicas.",
    },
    {
        check: "deployment-replicas",
        grade: "WARNING",
        objects: ["prometheus", "alertmanager", "agenc-speculation-canary"],
        reason: "Standalone Prometheus and Alertmanager each write one ReadWriteOnce volume (the TSDB the window bake is judged "
            + "from; the notification log and silences): one pod per volume, and a second Prometheus would be a second, "
            + "diverging history behind the same Service. HA monitoring is operator mode (kube-prometheus-stack), which "
            + "production uses. The ingress-weight canary runs its weight's share of the stable pods, at least one "
            + "(lib/shift/ingressWeight.ts canaryReplicas): at staging's two replicas and 50 % that is one pod, by design.",
    },
    {
        check: "deployment-strategy",
        grade: "WARNING",
        objects: ["prometheus", "alertmanager"],
        reason: "`Recreate`, not RollingUpdate: the old pod must let go of the ReadWriteOnce volume before the new one can "
            + "mount it (a rolling update's new pod would wait for the volume forever).",
    },
];

/** The kept finding for this check on this object, if any. */
export function keptFinding(check: string, object: string, grade: KeptGrade): KeptFinding | undefined {
    return KEPT_FINDINGS.find((k) => k.check === check && k.grade === grade && k.objects.includes(object));
}

/** KEPT_FINDINGS as the Markdown table docs/kube-score.md carries between its markers. */
export function keptFindingsTable(): string {
    const rows = KEPT_FINDINGS.map((k) => `| \`${k.check}\` | ${k.grade} | ${k.objects.map((o) => `\`${o}\``).join(", ")} | ${k.reason} |`);
    return ["| check | reported as | Deployments | why we keep it |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The markers around the generated table in docs/kube-score.md. */
export const TABLE_BEGIN = "<!-- kept-findings:begin (generated from lib/kubeScore.ts) -->";
export const TABLE_END = "<!-- kept-findings:end -->";
