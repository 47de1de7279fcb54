/** Which private path of the speculation service an Ingress path reaches under ingress-nginx, and the pair's paths. */
import { expect } from "chai";
import { DEFAULT_PUBLIC_ROUTES, ingressPaths, privatePathReached, PUBLIC_PATH_PATTERN } from "../../../lib/ingress/routes";

describe("public Ingress routes of the speculation service", () => {
    const cases: [string, string | undefined, string | undefined][] = [
        ["/", "Prefix", "/admin"],                 // everything
        ["", "Prefix", "/admin"],
        ["/admin", "Prefix", "/admin"],
        ["/admin/", "Prefix", "/admin"],
        ["/ADMIN/config", "Exact", "/admin"],      // case ignored: use-regex on the host makes matching case-insensitive
        ["/metrics", "Exact", "/metrics"],
        ["/api", "Prefix", undefined],
        ["/api/admin", "Prefix", undefined],       // below /api, not /admin
        ["/adm", "Prefix", undefined],             // element-wise: /adm does not match /admin
        ["/metricsx", "Prefix", undefined],
        ["/admin", "Exact", "/admin"],
        ["/adm", "ImplementationSpecific", "/admin"], // nginx's string prefix does match /admin
        ["/adm", undefined, "/admin"],
        ["/api", "ImplementationSpecific", undefined],
        ["/a.*", "ImplementationSpecific", "/admin"], // a regular expression cannot be shown not to
    ];
    for (const [path, type, reached] of cases) {
        it(`${JSON.stringify(path)} ${type ?? "(no pathType)"} reaches ${reached ?? "nothing private"}`, () => {
            expect(privatePathReached(path, type)).to.equal(reached);
        });
    }
    it("accepts plain paths only: no /, regex characters, // or dot segments", () => {
        for (const ok of ["/api", "/api/v1", "/api/", "/v1.2/x"]) expect(PUBLIC_PATH_PATTERN.test(ok), ok).to.equal(true);
        for (const bad of ["/", "api", "/api/.*", "/api//x", "/api/../admin", "/./api", "/api/(v1)", "/a b"]) expect(PUBLIC_PATH_PATTERN.test(bad), bad).to.equal(false);
    });
    it("builds the primary's and the canary's paths from the same routes, differing only in the backend", () => {
        const primary = ingressPaths(DEFAULT_PUBLIC_ROUTES, "agenc-speculation", 9090);
        const canary = ingressPaths(DEFAULT_PUBLIC_ROUTES, "agenc-speculation-canary", 9090);
        expect(primary).to.deep.equal([{ path: "/api", pathType: "Prefix", backend: { service: { name: "agenc-speculation", port: { number: 9090 } } } }]);
        expect(canary.map(({ path, pathType }) => ({ path, pathType }))).to.deep.equal(primary.map(({ path, pathType }) => ({ path, pathType })));
    });
});
