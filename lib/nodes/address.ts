/** How a node is reached and recognised; no dependencies, so the config schema and the policy pack share it too. */

export interface NodeAddress {
    name: string;
    host: string;
    port: number;
    user: string;
    /** "ssh-ed25519 AAAA…": type and base64 key, as in known_hosts without the host name. */
    hostKey: string;
}

export { PINNED_HOST_KEY } from "../../config/hostKey";

/** Just the address fields of anything that describes a node (a config entry, a test node). */
export function nodeAddress({ name, host, port, user, hostKey }: NodeAddress): NodeAddress {
    return { name, host, port, user, hostKey };
}
