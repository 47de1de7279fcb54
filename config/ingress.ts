/**
 * What the speculation service's Ingresses route to the public, and what they never route (issue 17): the rules the
 * config schema validates `canary.ingress.publicPaths` with.  No dependencies; lib/ingress/routes.ts builds the
 * Ingress paths from them and the policy pack reads the same rules.
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

