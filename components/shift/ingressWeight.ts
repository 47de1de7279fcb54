/**
 * Ingress-weight mode's shift (lib/shift/ingressWeight.ts): the top declared stage owns the canary (ConfigMap,
 * Deployment, Service labelled track=canary, ServiceMonitor), its smoke tests, and the weighted canary Ingress beside
 * the primary Ingress; aliases let ownership move between stages without replacing them.
 */
import * as k8s from "@pulumi/kubernetes";
import { ingressAwait } from "../../lib/k8s";
import { ingressPaths } from "../../lib/ingress/routes";
import { SPECULATION_PORT } from "../../lib/monitoring/scrape";
import { CANARY_NAME } from "../../lib/shift";
import { CreateShift } from "./site";
import { newTrack, trackSmoke } from "./track";

/** pulumi-kubernetes: apply this object with force, taking fields back from other field managers. */
export const PATCH_FORCE = "pulumi.com/patchForce";

export const ingressWeightShift: CreateShift = (site) => {
    const ing = site.ingress;
    if (!ing) throw new Error("CanaryStage: ingress-weight mode needs args.ingress");
    // Lower stages keep their place in the chain (and their gate), the weight belongs to the top stage.  Without
    // a track (kubernetes.enabled false) nothing is deployed: the weight is set by whoever runs the ingress, and
    // the gate judges the two tracks at the addresses configured.
    if (!site.isTop || !site.track) return { shift: site.stage };
    const withAliases = site.owned(site.after);
    const { deployment, service } = newTrack(site, CANARY_NAME, "canary", withAliases);
    // The canary's first weight waits for its smoke tests against its own Service.
    const smoke = trackSmoke(site, "canary", withAliases, [deployment, service]);
    const awaitPolicy = ingressAwait(ing.await);
    const shift = new k8s.networking.v1.Ingress("canary-ingress", {
        metadata: {
            name: CANARY_NAME,
            namespace: site.namespace,
            annotations: {
                ...awaitPolicy.annotations,
                // The watchdog may set the weight to 0 (a revert, with its own field manager).  Server-side apply
                // would then refuse the next `pulumi up`'s weight as a field conflict; the provider forces it when
                // this annotation is set: the operator's explicit `pulumi up` takes the field back.
                [PATCH_FORCE]: "true",
                "nginx.ingress.kubernetes.io/canary": "true",
                "nginx.ingress.kubernetes.io/canary-weight": String(site.step.percentage),
            },
        },
        spec: {
            ingressClassName: ing.className,
            // The primary Ingress's paths, built by the same function: the pair matches, and /admin is in neither.
            rules: [{ host: ing.host, http: { paths: ingressPaths(ing.paths, CANARY_NAME, SPECULATION_PORT) } }],
        },
    }, { ...withAliases("canary-ingress", [deployment, service, ...(smoke ? [smoke] : [])]), ...awaitPolicy.opts });
    return { shift, trackDeployment: deployment, ...(smoke ? { smokeTest: smoke } : {}) };
};
