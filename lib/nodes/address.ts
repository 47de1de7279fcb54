/** How a node is reached and recognised; no dependencies, so the config schema and the policy pack share it too. */

export interface NodeAddress {
    name: string;
    host: string;
    port: number;
    user: string;
    /** "ssh-ed25519 AAAA…": type and base64 key, as in known_hosts without the host name. */
    hostKey: string;
}

/** A pinned public host key: its type and base64 key, no host name. */
export const PINNED_HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;

/** Just the address fields of anything that describes a node (a config entry, a test node). */
export function nodeAddress({ name, host, port, user, hostKey }: NodeAddress): NodeAddress {
    return { name, host, port, user, hostKey };
}
