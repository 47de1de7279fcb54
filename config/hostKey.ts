/** A pinned public host key: its type and base64 key, no host name (known_hosts without the host).  The config schema
 * checks `nodes.hosts[].hostKey` with it; the node rollout and the policy pack use the same pattern (lib/nodes/address.ts). */
export const PINNED_HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;
