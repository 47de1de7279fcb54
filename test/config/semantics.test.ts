/**
 * Issue 25, items 1 and 3: config semantics refused at load, one class at a time (each case was accepted before), and
 * rendered YAML that a strict YAML 1.1 loader reads exactly as a 1.2 loader does.  Pure: the config parser, the
 * policy functions and the program under mocks (scripts/render.ts), no servers.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Document, isScalar, parseAllDocuments, visit } from "yaml";
import { ConfigError, parseStackConfig } from "../../config";
import { cidrProblem, DEFAULT_MIN_CIDR_PREFIX, familiesCovered, normaliseCidr } from "../../config/cidr";
import { redactUrl } from "../../lib/records/redact";
import { peers } from "../../lib/network/peers";
import { portableYaml } from "../../lib/portableYaml";
import * as P from "../../policy/policies";
import { renderStack } from "../../scripts/render";
import { newTrackSmokePollMs } from "../../lib/plan/release";
import { asPolicyResources, packConfig, runStackPolicy } from "../policy/harness";
import { encodeConfig, NODE_SECRET_KEYS, stackConfig, withEdit, withNodes } from "../helpers/stack";
import { renderModes } from "../helpers/renderModes";
import { MONITORING_MODES, SHIFT_MODES } from "../../config/schema";

type Config = Record<string, unknown>;
const key = (k: string) => `speculation:${k}`;

/** The problems the loader reports for a config ([] when it is accepted). */
function problemsOf(config: Config, secretKeys: string[] = []): string[] {
    try {
        parseStackConfig(encodeConfig(config), new Set(secretKeys));
        return [];
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
}

/** The config is refused with a problem on `at` whose message matches `message`. */
function expectRefused(config: Config, at: string, message: RegExp, secretKeys: string[] = []): string {
    const problems = problemsOf(config, secretKeys);
    const hit = problems.find((p) => p.startsWith(`${key(at)}: `) && message.test(p));
    expect(hit, `${at} ${message} in ${JSON.stringify(problems)}`).to.not.equal(undefined);
    return hit!;
}

const cidrs = (list: unknown, base: Config = stackConfig("staging")) => withEdit(base, key("hardening"), "networkPolicies.gateCidrs", list);

describe("config semantics (issue 25)", () => {
    it("accepts the staging and production stacks as they are", () => {
        expect(problemsOf(stackConfig("staging"))).to.deep.equal([]);
        expect(problemsOf(stackConfig("production"))).to.deep.equal([]);
    });

    describe("CIDRs", () => {
        it("refuses the whole space however it is spelled, naming the entry", () => {
            for (const cidr of ["0.0.0.0/0", "10.0.0.0/0", "1.2.3.4/0", "::/0", "0::/0", "::0/0", "0:0:0:0:0:0:0:0/0"]) {
                expectRefused(cidrs([cidr]), "hardening.networkPolicies.gateCidrs[0]", /must not admit every address/);
            }
        });

        it("refuses a prefix wider than the configured minimum (default /8 IPv4, /32 IPv6), and honours a configured one", () => {
            expectRefused(cidrs(["192.0.2.0/24", "10.0.0.0/7"]), "hardening.networkPolicies.gateCidrs[1]", /must not be wider than \/8 for IPv4/);
            expectRefused(cidrs(["2001:db8::/31"]), "hardening.networkPolicies.gateCidrs[0]", /must not be wider than \/32 for IPv6/);
            expect(problemsOf(cidrs(["10.0.0.0/8", "2001:db8::/32"]))).to.deep.equal([]);
            const stricter = withEdit(cidrs(["10.0.0.0/8"]), key("hardening"), "networkPolicies.minCidrPrefix", { ipv4: 16 });
            expectRefused(stricter, "hardening.networkPolicies.gateCidrs[0]", /wider than \/16/);
            const wider = withEdit(cidrs(["16.0.0.0/4"]), key("hardening"), "networkPolicies.minCidrPrefix", { ipv4: 4 });
            expect(problemsOf(wider)).to.deep.equal([]);
        });

        it("refuses a set whose union is the whole IPv4 or IPv6 space", () => {
            const v4 = withEdit(cidrs(["0.0.0.0/1", "128.0.0.0/1"]), key("hardening"), "networkPolicies.minCidrPrefix", { ipv4: 1 });
            expectRefused(v4, "hardening.networkPolicies.gateCidrs", /together admit every IPv4 address/);
            const v6 = withEdit(cidrs(["::/1", "8000::/1"]), key("hardening"), "networkPolicies.minCidrPrefix", { ipv6: 1 });
            expectRefused(v6, "hardening.networkPolicies.gateCidrs", /together admit every IPv6 address/);
            expect(familiesCovered(["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"])).to.deep.equal(["ipv4"]);
            expect(familiesCovered(["0.0.0.0/1", "128.0.0.0/2"])).to.deep.equal([]);
        });

        it("refuses text that is no CIDR (zones, prefixes out of range, leading zeros)", () => {
            for (const bad of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/08", "fe80::1%eth0/64", "2001:db8::/129", "example.com/24"]) {
                expectRefused(cidrs([bad]), "hardening.networkPolicies.gateCidrs[0]", /must be a CIDR such as 10\.20\.0\.0\/24/);
            }
        });

        it("writes each CIDR normalised into the NetworkPolicies (host bits cleared, RFC 5952)", () => {
            expect(normaliseCidr("10.20.0.5/24")).to.equal("10.20.0.0/24");
            expect(normaliseCidr("2001:DB8:0:0:1:0:0:1/128")).to.equal("2001:db8::1:0:0:1/128");
            const { config } = parseStackConfig(encodeConfig(cidrs(["10.20.0.5/24", "2001:0DB8::/48"])));
            const gate = peers({ namespace: "agenc-staging", monitoringMode: "operator", shiftMode: "feature-flag", policy: config.hardening.networkPolicies }).gate;
            expect(gate.slice(1)).to.deep.equal([{ ipBlock: { cidr: "10.20.0.0/24" } }, { ipBlock: { cidr: "2001:db8::/48" } }]);
        });

        it("the policy pack judges ipBlocks with the same functions (spellings of /0, too wide, split halves)", () => {
            expect(cidrProblem("0::/0")).to.match(/whole IPv6 space/);
            const res = (type: string, name: string, props: Record<string, unknown>) => ({ type, name, inputs: props, outputs: props, urn: `urn:${type}::${name}`, dependencies: [] });
            const deny = res(P.TYPES.networkPolicy, "default-deny-ingress", { metadata: { name: "default-deny-ingress" }, spec: { podSelector: {}, policyTypes: ["Ingress"] } });
            const d = res(P.TYPES.deployment, "d", { metadata: { name: "agenc-speculation" }, spec: { replicas: 2 } });
            const admin = (...blocks: string[]) => res(P.TYPES.networkPolicy, "agenc-speculation-admin", {
                metadata: { name: "agenc-speculation-admin" },
                spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: blocks.map((cidr) => ({ from: [{ ipBlock: { cidr } }], ports: [{ port: 9090 }] })) },
            });
            const run = (...blocks: string[]) => runStackPolicy(P.networkIsolation, asPolicyResources([d, deny, admin(...blocks)], false), "production").map((v) => v.message);
            expect(run("192.0.2.0/24")).to.deep.equal([]);
            expect(run("0::/0")).to.deep.equal(["NetworkPolicy agenc-speculation-admin rule 1 admits 0::/0 (::/0)."]);
            expect(run("10.0.0.0/7")).to.deep.equal(["NetworkPolicy agenc-speculation-admin rule 1 admits 10.0.0.0/7, wider than /8."]);
            const halves = run("0.0.0.0/1", "128.0.0.0/1");
            expect(halves.at(-1)).to.match(/^NetworkPolicy agenc-speculation-admin admits 0\.0\.0\.0\/1 \+ 128\.0\.0\.0\/1, which together admit every IPv4 address/);

            // The pack's minimum prefixes are configurable as the loader's are (minCidrPrefix): the two agree.
            const configured = (min: { ipv4?: number; ipv6?: number }, ...blocks: string[]) => runStackPolicy(P.networkIsolation, asPolicyResources([d, deny, admin(...blocks)], false), "production",
                { "network-isolation": { ...(min.ipv4 ? { minCidrPrefixIpv4: min.ipv4 } : {}), ...(min.ipv6 ? { minCidrPrefixIpv6: min.ipv6 } : {}) } }).map((v) => v.message);
            for (const [min, block, loaderAccepts] of [
                [{ ipv4: 4 }, "16.0.0.0/4", true], [{}, "16.0.0.0/4", false], [{ ipv4: 16 }, "10.0.0.0/8", false], [{ ipv4: 16 }, "10.1.0.0/16", true],
                [{ ipv6: 16 }, "2001::/16", true], [{ ipv6: 48 }, "2001:db8::/32", false],
            ] as const) {
                const stack = withEdit(cidrs([block]), key("hardening"), "networkPolicies.minCidrPrefix", min);
                expect(problemsOf(stack).length === 0, `loader, ${JSON.stringify(min)} ${block}`).to.equal(loaderAccepts);
                expect(configured(min, block).length === 0, `pack, ${JSON.stringify(min)} ${block}`).to.equal(loaderAccepts);
            }
            expect(configured({ ipv4: 16 }, "10.0.0.0/8")).to.deep.equal(["NetworkPolicy agenc-speculation-admin rule 1 admits 10.0.0.0/8, wider than /16."]);
        });

        it("each stack file's minimum prefixes are its policy pack config's (the loader and the pack agree on the shipped stacks)", () => {
            for (const stack of ["staging", "production"] as const) {
                const { config } = parseStackConfig(encodeConfig(stackConfig(stack)));
                const loader = config.hardening.networkPolicies.minCidrPrefix ?? DEFAULT_MIN_CIDR_PREFIX;
                const own = packConfig(stack)["network-isolation"];
                const pack = typeof own === "object" ? own : {};
                expect({ ipv4: pack.minCidrPrefixIpv4 ?? P.POLICY_DEFAULTS.minCidrPrefixIpv4, ipv6: pack.minCidrPrefixIpv6 ?? P.POLICY_DEFAULTS.minCidrPrefixIpv6 }, stack)
                    .to.deep.equal({ ipv4: loader.ipv4, ipv6: loader.ipv6 });
            }
            expect({ ipv4: P.POLICY_DEFAULTS.minCidrPrefixIpv4, ipv6: P.POLICY_DEFAULTS.minCidrPrefixIpv6 }, "the pack's defaults are the loader's").to.deep.equal(DEFAULT_MIN_CIDR_PREFIX);
        });
    });

    describe("URLs", () => {
        const URL_KEYS: [string, string][] = [
            ["canary", "gate.serviceUrl"], ["canary", "gate.canaryUrl"], ["canary", "gate.proofWorkerUrl"], ["canary", "gate.prometheusUrl"],
            ["canary", "gate.alertmanagerUrl"], ["canary", "gate.revert.watchdogActionUrl"], ["canary", "blueGreen.greenUrl"],
            ["watchdog", "prometheusUrl"], ["preflight", "chainRpcUrl"], ["records", "pushgatewayUrl"],
        ];

        it("refuses every scheme but http(s) on every URL key", () => {
            for (const [top, at] of URL_KEYS) {
                for (const url of ["file:///etc/passwd", "ftp://gateway.example/x", "gopher://h:70/"]) {
                    expectRefused(withEdit(stackConfig("staging"), key(top), at, url), `${top}.${at}`, /^[^ ]+: must be an http\(s\) URL$/);
                }
            }
        });

        it("refuses user:password@ in every plain URL key, naming the key and never echoing the password", () => {
            for (const [top, at] of URL_KEYS) {
                const hit = expectRefused(withEdit(stackConfig("staging"), key(top), at, "http://admin:s3cret@gateway.example:9091"), `${top}.${at}`, /must not carry credentials/);
                expect(hit).to.not.contain("s3cret");
            }
            expect(problemsOf(withEdit(stackConfig("staging"), key("records"), "pushgatewayUrl", "https://gateway.example:9091"))).to.deep.equal([]);
        });

        it("takes the Pushgateway's credentials from a secret key of their own, only with records.pushgatewayUrl, never echoing them", () => {
            const CREDS = key("pushgatewayCredentials");
            const withGateway = withEdit(stackConfig("staging"), key("records"), "pushgatewayUrl", "https://gateway.example:9091");
            const withCreds = (base: Config, value: unknown) => ({ ...base, [CREDS]: value });
            expect(problemsOf(withCreds(withGateway, { username: "pusher", password: "s3cret-pw" }), [CREDS])).to.deep.equal([]);
            const plain = problemsOf(withCreds(withGateway, { username: "pusher", password: "s3cret-pw" }));
            expect(plain).to.deep.equal([`${CREDS}: must be set as a secret (pulumi config set --secret --path '${CREDS}.password' …)`]);
            expect(problemsOf(withCreds(stackConfig("staging"), { username: "pusher", password: "s3cret-pw" }), [CREDS]))
                .to.deep.equal([`${CREDS}: only applies when speculation:records.pushgatewayUrl is set (the credentials of that Pushgateway)`]);
            const colon = problemsOf(withCreds(withGateway, { username: "pu:sher", password: "s3cret-pw" }), [CREDS]);
            expect(colon).to.have.length(1);
            expect(colon[0]).to.match(new RegExp(`^${CREDS}\\.username: must be the Pushgateway user name: no colon`));
            const extra = problemsOf(withCreds(withGateway, { username: "pusher", password: "s3cret-pw", token: "s3cret-tk" }), [CREDS]);
            expect(extra[0]).to.match(/unknown key "token"/);
            for (const p of [...plain, ...colon, ...extra]) expect(p).to.not.match(/s3cret/);
            expect(parseStackConfig(encodeConfig(withCreds(withGateway, { username: "pusher", password: "s3cret-pw" })), new Set([CREDS])).pushgatewayCredentials)
                .to.deep.equal({ username: "pusher", password: "s3cret-pw" });
        });

        it("prints URLs redacted", () => {
            expect(redactUrl("http://admin:s3cret@gateway.example:9091/")).to.equal("http://***@gateway.example:9091");
            expect(redactUrl("http://gateway.example:9091")).to.equal("http://gateway.example:9091");
            expect(redactUrl("not a url with s3cret")).to.not.contain("s3cret");
        });
    });

    describe("durations", () => {
        const gate = (at: string, value: string, base = stackConfig("staging")) => withEdit(base, key("canary"), `gate.${at}`, value);

        it("a read's timeout is below its poll interval (both keys named)", () => {
            expectRefused(gate("timeout", "5h"), "canary.gate.timeout", /must be below canary\.gate\.pollInterval \(30s\)/);
            expectRefused(gate("timeout", "30s"), "canary.gate.timeout", /must be below canary\.gate\.pollInterval/);
            expect(problemsOf(withEdit(gate("timeout", "29s"), key("rollback"), "drainPollInterval", "30s"))).to.deep.equal([]);
            const sentinel = withEdit(stackConfig("staging"), key("watchdog"), "sentinel.timeout", "30s");
            expectRefused(sentinel, "watchdog.sentinel.timeout", /must be below half of watchdog\.sentinel\.interval \(1m\)/);
        });

        it("every deadline covers at least one attempt", () => {
            const slow = gate("pollInterval", "10m", gate("timeout", "9m"));
            expectRefused(slow, "canary.gate.revert.deadline", /must be at least canary\.gate\.timeout \(9m\)/);
            expectRefused(gate("deadlineSlack", "5s"), "canary.gate.deadlineSlack", /must be at least canary\.gate\.timeout \(10s\)/);
            const batch = withNodes(stackConfig("staging"), 1, { batchGate: { enabled: true, bake: "10s" } });
            expectRefused(batch, "nodes.batchGate.bake", /must be at least canary\.gate\.pollInterval \(30s\)/, NODE_SECRET_KEYS);
        });

        it("the rollback drain, which reads with canary.gate.timeout: its poll interval above it, its deadline at least one read", () => {
            const rollback = (at: string, value: string, base = stackConfig("staging")) => withEdit(base, key("rollback"), at, value);
            expectRefused(rollback("drainPollInterval", "5s", gate("timeout", "20s")), "rollback.drainPollInterval", /must be above canary\.gate\.timeout \(20s\)/);
            expectRefused(rollback("drainPollInterval", "10s"), "rollback.drainPollInterval", /must be above canary\.gate\.timeout \(10s\)/);
            expectRefused(rollback("drainTimeout", "20s", rollback("drainPollInterval", "15s", gate("timeout", "25s"))), "rollback.drainTimeout", /must be at least canary\.gate\.timeout \(25s\)/);
            // Whatever rollback.mode is: the stack learns it before the day it must roll back.
            expectRefused(rollback("mode", "full", rollback("drainPollInterval", "5s")), "rollback.drainPollInterval", /must be above canary\.gate\.timeout/);
            expect(problemsOf(rollback("drainPollInterval", "26s", gate("timeout", "25s")))).to.deep.equal([]);
            expect(problemsOf(rollback("mode", "full"))).to.deep.equal([]);
        });

        it("the new track's smoke retries poll slower than one read, whatever timeout the gate accepts", () => {
            for (const [timeoutS, pollS] of [[25, 30], [10, 60], [5, 60], [9, 10], [1, 2], [29, 30], [100, 3600]]) {
                const accepted = problemsOf(gate("pollInterval", `${pollS}s`, gate("timeout", `${timeoutS}s`))).filter((p) => p.startsWith(key("canary.gate")));
                expect(accepted, `${timeoutS}s / ${pollS}s`).to.deep.equal([]);
                const smokePoll = newTrackSmokePollMs(timeoutS * 1000, pollS * 1000);
                expect(smokePoll, `timeout ${timeoutS}s, pollInterval ${pollS}s`).to.be.above(timeoutS * 1000).and.at.most(pollS * 1000);
            }
            expect(newTrackSmokePollMs(2_000, 60_000), "every 10 s while a read is short").to.equal(10_000);
        });

        it("the local rehearsal (1 s polls on loopback) is exempt from the poll-interval rule only", () => {
            const local = withEdit(gate("pollInterval", "1s", gate("timeout", "2s")), key("environment"), undefined, "local");
            expect(problemsOf(local).filter((p) => p.includes("canary.gate.timeout"))).to.deep.equal([]);
            expectRefused(withEdit(local, key("canary"), "gate.deadlineSlack", "1s"), "canary.gate.deadlineSlack", /must be at least canary\.gate\.timeout/);
        });
    });

    describe("numbers", () => {
        it("upper bounds on rates, sizes and floors", () => {
            const s = stackConfig("staging");
            expectRefused(withEdit(s, key("bench"), "minThroughputPerSecond", 5e9), "bench.minThroughputPerSecond", /must be at most 10000000/);
            expectRefused(withEdit(s, key("bench"), "extraGates", [{ metric: "error_rate", comparator: "lt", value: 5 }]), "bench.extraGates[0].value", /must be from 0 to 1 for error_rate/);
            expectRefused(withEdit(s, key("bench"), "extraGates", [{ metric: "p95_ms", comparator: "lt", value: -1 }]), "bench.extraGates[0].value", /must be from 0 to/);
            expectRefused(withEdit(s, key("monitoring"), "storage.prometheusSize", "1000Ti"), "monitoring.storage.prometheusSize", /must be at most 64Ti/);
            expectRefused(withEdit(s, key("proofWorkers"), "resources.limits.memory", "64Ti"), "proofWorkers.resources.limits.memory", /must be at most 1Ti/);
            expectRefused(withEdit(s, key("service"), "resources.limits.cpu", "5000"), "service.resources.limits.cpu", /must be at most 256 cores/);
            expectRefused(withEdit(s, key("service"), "resources.requests.memory", "8Gi"), "service.resources.requests.memory", /must be at most limits\.memory \(4Gi\)/);
            expectRefused(withEdit(s, key("nodes"), "minFreeDiskGb", 1e7), "nodes.minFreeDiskGb", /must be at most 100000/);
            expectRefused(withEdit(s, key("preflight"), "minStakeSol", 1e12), "preflight.minStakeSol", /must be at most 1000000000/);
            expectRefused(withEdit(s, key("canary"), "judge.minRequests", 1e9), "canary.judge.minRequests", /must be at most 10000000/);
        });
    });

    describe("versions", () => {
        it("an emergency rollback's lastKnownGood differs from release.version", () => {
            const c = withEdit(withEdit(stackConfig("staging"), key("rollback"), "mode", "emergency"), key("rollback"), "lastKnownGood", "v1.2.3");
            expectRefused(c, "rollback.lastKnownGood", /must differ from release\.version \(v1\.2\.3\)/);
            expect(problemsOf(withEdit(c, key("rollback"), "lastKnownGood", "v1.2.1"))).to.deep.equal([]);
        });
    });

    describe("command-line strings", () => {
        const nodes = (settings: Record<string, unknown>) => withNodes(stackConfig("staging"), 1, settings);
        it("refuses a leading - in every name, path and command that reaches a node's shell or argv", () => {
            expectRefused(nodes({ serviceName: "-Hroot@evil.example" }), "nodes.serviceName", /must be a systemd unit name.*not starting with -/, NODE_SECRET_KEYS);
            expectRefused(nodes({ serviceName: "alys;reboot" }), "nodes.serviceName", /must be a systemd unit name/, NODE_SECRET_KEYS);
            for (const command of ["restartCommand", "healthCommand", "versionCommand", "serviceCheckCommand"]) {
                expectRefused(nodes({ [command]: "--help" }), `nodes.${command}`, /must not start with -/, NODE_SECRET_KEYS);
                expectRefused(nodes({ [command]: "true\nreboot" }), `nodes.${command}`, /must be one line/, NODE_SECRET_KEYS);
            }
            expect(problemsOf(nodes({ healthCommand: "curl -sf http://localhost:8545/health | grep -q ok" }), NODE_SECRET_KEYS)).to.deep.equal([]);
            expectRefused(withEdit(stackConfig("staging"), key("bench"), "command", "-c reboot"), "bench.command", /must not start with -/);
            expectRefused(nodes({ binary: "-rf" }), "nodes.binary", /must not start with -/, NODE_SECRET_KEYS);
            expectRefused(nodes({ operator: "-oProxyCommand=x" }), "nodes.operator", /not starting with -/, NODE_SECRET_KEYS);
            expectRefused(withEdit(stackConfig("staging"), key("records"), "operator", "$(reboot)"), "records.operator", /user or CI actor name/);
            const host = withEdit(nodes({}), key("nodes"), "hosts[0].host", "-oProxyCommand=reboot");
            expectRefused(host, "nodes.hosts[0].host", /must be a host name/, NODE_SECRET_KEYS);
            const user = withEdit(nodes({}), key("nodes"), "hosts[0].user", "-root");
            expectRefused(user, "nodes.hosts[0].user", /must be a POSIX user name/, NODE_SECRET_KEYS);
            expectRefused(withEdit(stackConfig("staging"), key("bench"), "onNode", "-alys"), "bench.onNode", /must be a node name/);
            expectRefused(nodes({ installPath: "opt/-alys" }), "nodes.installPath", /must be an absolute path/, NODE_SECRET_KEYS);
        });

        it("refuses a file name outside the strict set in every local path the rollout names (the config file's lands in the node's shell)", () => {
            const allowed = /its file name must hold only letters, digits and \. _ \+ @ -, and not start with -/;
            for (const bad of ["x$(id).toml", "conf/x`id`.toml", "a b.toml", "x\"; reboot; \".toml", "dir/-x.toml", "cfg/..", "x'y.toml", "x;y"]) {
                expectRefused(nodes({ configFile: bad }), "nodes.configFile", allowed, NODE_SECRET_KEYS);
                expectRefused(nodes({ binary: bad }), "nodes.binary", allowed, NODE_SECRET_KEYS);
            }
            expectRefused(withEdit(nodes({}), key("signing"), "nodeBinarySignature", "sig/$(id).sig"), "signing.nodeBinarySignature", allowed, NODE_SECRET_KEYS);
            // The folders may hold anything on one line; the file names the strict set.
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "semantics-"));
            try {
                for (const good of ["config.toml", "conf dir/alys-v1.2.3+build@x_y.toml", "conf dir/.alys_1"]) {
                    fs.mkdirSync(path.dirname(path.join(dir, good)), { recursive: true });
                    fs.writeFileSync(path.join(dir, good), "");
                    expect(problemsOf(nodes({ configFile: path.join(dir, good), binary: path.join(dir, good) }), NODE_SECRET_KEYS), good).to.deep.equal([]);
                }
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});

/**
 * A strict YAML 1.1 load: errors refused, and what 1.1 gives a meaning 1.2 does not (PyYAML refuses the plain `=`,
 * the value tag, with no constructor).  Returns the documents as plain objects.
 */
function strictYaml11(text: string, what: string): unknown[] {
    return parseAllDocuments(text, { version: "1.1", strict: true, uniqueKeys: true }).map((doc, i) => {
        expect(doc.errors.map((e) => e.message), `${what} document ${i + 1}: YAML 1.1 errors`).to.deep.equal([]);
        visit(doc as Document, {
            Scalar(_key, node) {
                if (isScalar(node) && node.type === "PLAIN" && node.source === "=") expect.fail(`${what} document ${i + 1}: a plain = (YAML 1.1's value tag; PyYAML cannot construct it)`);
            },
        });
        return doc.toJS();
    });
}

function yaml12(text: string): unknown[] {
    return parseAllDocuments(text, { version: "1.2" }).map((d) => d.toJS());
}

/** Every YAML text in a rendered manifest set: the documents, and the YAML files ConfigMaps and Secrets carry. */
function embeddedYaml(docs: unknown[]): [string, string][] {
    const out: [string, string][] = [];
    for (const doc of docs as { kind?: string; metadata?: { name?: string }; data?: Record<string, unknown>; stringData?: Record<string, unknown> }[]) {
        for (const files of [doc.data, doc.stringData]) {
            for (const [file, text] of Object.entries(files ?? {})) {
                if (/\.ya?ml$/.test(file) && typeof text === "string") out.push([`${doc.kind} ${doc.metadata?.name} ${file}`, text]);
            }
        }
    }
    return out;
}

describe("rendered YAML reads the same under YAML 1.1 and 1.2 (issue 25, item 3)", function () {
    this.timeout(120_000);

    it("the emitter quotes what 1.1 reads otherwise (=, yes, on, 1:20, dates), and keeps block text", () => {
        const value = { matchType: "=", a: "yes", b: "on", c: "1:20", d: "2024-01-01", e: "0o17", f: "y", g: "plain", h: "line one\nline two\n", n: 3, t: true };
        const text = portableYaml(value);
        expect(text).to.contain('matchType: "="');
        expect(strictYaml11(text, "sample")).to.deep.equal([value]);
        expect(yaml12(text)).to.deep.equal([value]);
    });

    // Every mode the program renders (test/helpers/renderModes.ts: each stack, monitoring and shift mode at 50 %, so
    // each mode's new track is declared), as kube-score sees them.
    const modes = renderModes();
    it("covers every render mode: both stacks, every monitoring mode and every shift mode", () => {
        expect(modes.length).to.equal(2 * MONITORING_MODES.length * (SHIFT_MODES.length + 1));
    });
    for (const { name, stack, config } of modes) {
        const mode = name.split("/")[1];
        it(`every rendered manifest and generated Prometheus/Alertmanager config of ${name}`, async () => {
            const rendered = await renderStack(stack, config);
            const docs = strictYaml11(rendered.yaml, `${name} manifests.yaml`);
            expect(docs).to.deep.equal(yaml12(rendered.yaml));
            expect(docs.length).to.equal(rendered.manifests.length);
            const files = embeddedYaml(docs);
            if (mode === "standalone") expect(files.map(([what]) => what).join(" ")).to.match(/prometheus\.yml/);
            for (const [what, text] of files) expect(strictYaml11(text, what), what).to.deep.equal(yaml12(text));
            if (mode === "operator") {
                const am = (docs as { kind?: string }[]).filter((d) => d.kind === "AlertmanagerConfig");
                expect(am, "an AlertmanagerConfig (its matchType is =)").to.not.have.length(0);
            }
        });
    }
});
