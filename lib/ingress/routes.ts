/**
 * What the speculation service's Ingresses route to the public, and what they never route (issue 17).  No
 * dependencies: the config schema, the components and the policy pack read the same rules.
 *
 * The service answers everything on one port (9090): its API, `/metrics` and the admin API (`POST /admin/config`
 * moves the rollout percentage, behind a bearer token).  NetworkPolicies are L4 and cannot tell them apart, and the
 * ingress controller must reach 9090, so the Ingresses are the boundary: they list the public paths one by one.
 * Never `/`, which under any controller routes every path, `/admin` included.
 *
 * ingress-nginx's real behaviour, which these rules assume (its docs and issues):
 *  - `Exact` becomes `location = /p`; `Prefix` matches element-wise since controller v0.41 (`/api` matches `/api`,
 *    `/api/x`, not `/apix`, ingress-nginx#6437); `ImplementationSpecific` is nginx's own string-prefix location
 *    (`/ad` would also match `/admin`), so public routes use only Prefix and Exact.
 *  - An Ingress with `nginx.ingress.kubernetes.io/use-regex` (or `rewrite-target`, which implies it) turns every path
 *    of that host, on every Ingress, into a case-insensitive regular expression (`location ~* "^/p"`; and Exact then
 *    behaves like Prefix, ingress-nginx#8208), so public paths hold no regex characters, and comparisons ignore case.
 *  - A canary Ingress is honoured only beside a primary Ingress for the same host and path: both Ingresses take
 *    their paths from ingressPaths() below, so the pair always matches.
 *  - Denying `/admin` with `server-snippet` / `configuration-snippet` is not relied on: many clusters disable snippet
 *    annotations (`allow-snippet-annotations: false`, the default since controller v1.9).
 */

export const PUBLIC_PATH_TYPES = ["Prefix", "Exact"] as const;
export type PublicPathType = typeof PUBLIC_PATH_TYPES[number];

export interface PublicRoute {
    /** An absolute path of the service's public API, without regex characters (`/api`). */
    path: string;
    /** `Prefix` (element-wise: `/api` matches `/api/v1/x`, not `/apix`) or `Exact`. */
    pathType: PublicPathType;
}

/** Paths of the speculation service that stay inside the cluster: the admin API and the scrape endpoint. */
export const PRIVATE_PATHS = ["/admin", "/metrics"] as const;

/** The default public route: the service's client API. */
export const DEFAULT_PUBLIC_ROUTES: PublicRoute[] = [{ path: "/api", pathType: "Prefix" }];

/** A public path: absolute, segments of path characters (no regex characters, no spaces, no `//`, no `.`/`..`). */
export const PUBLIC_PATH_PATTERN = /^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+\/?$/;

/** `path` is `base` or below it (element-wise), ignoring case. */
function under(path: string, base: string): boolean {
    return path === base || path.startsWith(`${base}/`);
}

/**
 * The private path (PRIVATE_PATHS) that an Ingress path of `pathType` would route, under ingress-nginx, or undefined
 * when it routes none.  Case is ignored (a use-regex annotation on the host makes every match case-insensitive).
 */
export function privatePathReached(path: string | undefined, pathType: string | undefined): string | undefined {
    const p = (path ?? "").toLowerCase();
    for (const q of PRIVATE_PATHS) {
        if (under(p, q)) return q;
        if (pathType === "Exact") continue;
        const trimmed = p.replace(/\/+$/, "");
        if (pathType === "Prefix") {
            // Element-wise prefix: `/` (or empty) matches everything; `/admin` and `/admin/` match `/admin/…`.
            if (trimmed === "" || under(q, trimmed)) return q;
            continue;
        }
        // ImplementationSpecific, or none: nginx's string prefix, and a regular expression beside use-regex.
        if (trimmed === "" || q.startsWith(trimmed) || /[\^$*+?()[\]{}|\\.]/.test(p)) return q;
    }
    return undefined;
}

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
