/**
 * The Ingress paths the speculation service's primary and canary Ingresses list, and what the policy pack finds
 * wrong in an Ingress as the API stores it.  The rules themselves (public and private paths, which path types, what
 * reaches /admin under ingress-nginx) live with the config that validates them: config/ingress.ts.
 */
import { PRIVATE_PATHS, privatePathReached, PUBLIC_PATH_TYPES, PublicRoute } from "../../config/ingress";

export { DEFAULT_PUBLIC_ROUTES, PRIVATE_PATHS, privatePathReached, PUBLIC_PATH_PATTERN, PUBLIC_PATH_TYPES } from "../../config/ingress";
export type { PublicPathType, PublicRoute } from "../../config/ingress";

/** The paths of one Ingress rule for these routes to `service`: the primary and the canary Ingress both use this. */
export function ingressPaths(routes: readonly PublicRoute[], service: string, port: number) {
    return routes.map((r) => ({ path: r.path, pathType: r.pathType, backend: { service: { name: service, port: { number: port } } } }));
}

/** Annotations with which ingress-nginx treats every path of the host as a case-insensitive regular expression. */
export const REGEX_ANNOTATIONS = ["nginx.ingress.kubernetes.io/use-regex", "nginx.ingress.kubernetes.io/rewrite-target"];

/**
 * Why an Ingress (as the API stores it) exposes one of `services` beyond its public paths, one line per finding:
 * a catch-all default backend, a path that reaches PRIVATE_PATHS, a path type other than Prefix or Exact, or an
 * annotation that turns the host's paths into regular expressions.
 */
export function ingressExposure(ingress: { metadata?: { name?: string; annotations?: Record<string, string> }; spec?: any }, services: readonly string[]): string[] {
    const name = ingress.metadata?.name ?? "(unnamed)";
    const out: string[] = [];
    const spec = ingress.spec ?? {};
    const routesTo = (b: any) => typeof b?.service?.name === "string" && services.includes(b.service.name);
    if (routesTo(spec.defaultBackend)) {
        out.push(`Ingress ${name} sends every request no rule matches (including ${PRIVATE_PATHS.join(", ")}) to ${spec.defaultBackend.service.name} (defaultBackend).`);
    }
    let routesService = false;
    for (const rule of spec.rules ?? []) {
        for (const p of rule?.http?.paths ?? []) {
            if (!routesTo(p?.backend)) continue;
            routesService = true;
            const where = `Ingress ${name} routes ${rule.host ?? "*"}${p.path ?? ""} (${p.pathType ?? "no pathType"}) to ${p.backend.service.name}`;
            const reached = privatePathReached(p.path, p.pathType);
            if (reached) out.push(`${where}, which reaches ${reached}: list only the service's public paths (speculation:canary.ingress.publicPaths), never "/" or ${PRIVATE_PATHS.join(", ")}.`);
            else if (!(PUBLIC_PATH_TYPES as readonly string[]).includes(p.pathType)) out.push(`${where}: use pathType Prefix or Exact (ImplementationSpecific is nginx's string prefix: it can reach more than it names).`);
        }
    }
    const regex = REGEX_ANNOTATIONS.filter((a) => ingress.metadata?.annotations?.[a] !== undefined);
    if ((routesService || routesTo(spec.defaultBackend)) && regex.length > 0) {
        out.push(`Ingress ${name} sets ${regex.join(", ")}: ingress-nginx then matches every path of its host as a case-insensitive regular expression (Exact behaves as a prefix).`);
    }
    return out;
}
