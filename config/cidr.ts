/**
 * CIDRs as the NetworkPolicies' ipBlocks use them, parsed rather than matched as text: the loader
 * (hardening.networkPolicies.gateCidrs) and the policy pack (network-isolation) both judge them here, so `10.0.0.0/0`,
 * `0::/0` or `0.0.0.0/1` + `128.0.0.0/1` are refused by both, however they are spelled.  No dependency (config/
 * imports nothing from lib/): node's `net.isIPv4` / `net.isIPv6` check the address, the rest is arithmetic on bigints.
 */
import { isIPv4, isIPv6 } from "net";

export type IpFamily = "ipv4" | "ipv6";

/** The widest prefix a CIDR may have by default: /8 for IPv4 (16 M addresses), /32 for IPv6 (an RIR allocation). */
export const DEFAULT_MIN_CIDR_PREFIX: Readonly<Record<IpFamily, number>> = { ipv4: 8, ipv6: 32 };

const BITS: Record<IpFamily, number> = { ipv4: 32, ipv6: 128 };

/** A parsed CIDR: its family, the network's first and last address (as integers), and its canonical text. */
export interface Cidr {
    family: IpFamily;
    prefix: number;
    first: bigint;
    last: bigint;
    /** Host bits cleared, IPv6 written as RFC 5952 prescribes (lower case, longest zero run compressed). */
    normalised: string;
}

function ipv4ToBigint(address: string): bigint {
    return address.split(".").reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigint(address: string): bigint {
    let text = address.toLowerCase();
    // An embedded IPv4 tail (::ffff:192.0.2.1) is the last two hextets.
    const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (dotted) {
        const v4 = ipv4ToBigint(dotted[1]);
        text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
    const headParts = head ? head.split(":") : [];
    const tailParts = tail ? tail.split(":") : [];
    const zeros = tail === undefined ? [] : Array(8 - headParts.length - tailParts.length).fill("0");
    return [...headParts, ...zeros, ...tailParts].reduce((n, h) => (n << 16n) | BigInt(parseInt(h, 16)), 0n);
}

function bigintToIpv4(n: bigint): string {
    return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 0xffn).toString()).join(".");
}

/** RFC 5952: lower case, no leading zeros, the longest run (two or more) of zero hextets, the first such, as `::`. */
function bigintToIpv6(n: bigint): string {
    const hextets = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => Number((n >> s) & 0xffffn));
    let bestStart = -1;
    let bestLength = 1;
    for (let i = 0; i < 8;) {
        if (hextets[i] !== 0) { i++; continue; }
        let j = i;
        while (j < 8 && hextets[j] === 0) j++;
        if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
        i = j;
    }
    const hex = hextets.map((h) => h.toString(16));
    if (bestStart < 0) return hex.join(":");
    return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * Parses `address/prefix`.  Returns a reason when it is not a CIDR (the address is not an IPv4 or IPv6 address, the
 * prefix is not a whole number within the family's bits, or it carries a zone such as %eth0).
 */
export function parseCidr(text: string): Cidr | string {
    const example = "a CIDR such as 10.20.0.0/24 or 2001:db8::/48";
    const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text);
    if (!m) return `must be ${example} (address/prefix)`;
    const [, address, prefixText] = m;
    const family: IpFamily | undefined = isIPv4(address) ? "ipv4" : isIPv6(address) && !address.includes("%") ? "ipv6" : undefined;
    if (!family) return `must be ${example} (${address} is not an IPv4 or IPv6 address)`;
    const prefix = Number(prefixText);
    const bits = BITS[family];
    if (prefix > bits || String(prefix) !== prefixText) return `must be ${example} (the prefix of an ${family === "ipv4" ? "IPv4" : "IPv6"} CIDR is a whole number from 0 to ${bits})`;
    const value = family === "ipv4" ? ipv4ToBigint(address) : ipv6ToBigint(address);
    const hostBits = BigInt(bits - prefix);
    const first = (value >> hostBits) << hostBits;
    const last = first + (1n << hostBits) - 1n;
    const normalised = `${family === "ipv4" ? bigintToIpv4(first) : bigintToIpv6(first)}/${prefix}`;
    return { family, prefix, first, last, normalised };
}

/** The canonical text of a CIDR (host bits cleared, RFC 5952 for IPv6); the text unchanged when it is no CIDR. */
export function normaliseCidr(text: string): string {
    const c = parseCidr(text);
    return typeof c === "string" ? text : c.normalised;
}

/**
 * Why one CIDR may not be admitted (undefined when it may): not a CIDR, the whole address space, or wider than the
 * family's minimum prefix.
 */
export function cidrProblem(text: string, minPrefix: Readonly<Record<IpFamily, number>> = DEFAULT_MIN_CIDR_PREFIX): string | undefined {
    const c = parseCidr(text);
    if (typeof c === "string") return c;
    const v = c.family === "ipv4" ? "IPv4" : "IPv6";
    if (c.prefix === 0) return `must not admit every address (${text} is ${c.normalised}, the whole ${v} space)`;
    if (c.prefix < minPrefix[c.family]) {
        return `must not be wider than /${minPrefix[c.family]} for ${v} (${text} is ${c.normalised}, 2^${BITS[c.family] - c.prefix} addresses): ` +
            `list the gate's own networks, or lower hardening.networkPolicies.minCidrPrefix.${c.family} deliberately`;
    }
    return undefined;
}

/**
 * The families whose whole address space the CIDRs cover together (`0.0.0.0/1` + `128.0.0.0/1`, or `::/1` +
 * `8000::/1`): such a set admits every address however each entry is written.  Unparseable entries are skipped.
 */
export function familiesCovered(cidrs: readonly string[]): IpFamily[] {
    const covered: IpFamily[] = [];
    for (const family of ["ipv4", "ipv6"] as const) {
        const ranges = cidrs.map(parseCidr).filter((c): c is Cidr => typeof c !== "string" && c.family === family)
            .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
        let next = 0n;
        for (const r of ranges) {
            if (r.first > next) break;
            if (r.last + 1n > next) next = r.last + 1n;
        }
        if (ranges.length > 0 && next === 1n << BigInt(BITS[family])) covered.push(family);
    }
    return covered;
}

/** What a set of CIDRs that covers a whole family is told. */
export function coverageProblem(family: IpFamily, networks: string = "the gate's own networks"): string {
    const v = family === "ipv4" ? "IPv4" : "IPv6";
    return `together admit every ${v} address (the entries' union is the whole ${v} space, as ${family === "ipv4" ? "0.0.0.0/0" : "::/0"} would): list ${networks} only`;
}
