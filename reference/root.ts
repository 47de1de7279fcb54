/**
 * Parts of the test rig that need root: SSH test nodes in their own mount namespaces (sshFleet.ts) and seed 000's
 * scripts in a network namespace (unshare).  They say so up front instead of failing on an EPERM from unshare.
 */
export const RUN_AS_ROOT = 'run the tests as root, or under sudo keeping PATH and HOME: sudo -E env "PATH=$PATH" "HOME=$HOME" npm test';

/** Throws a clear error naming `what` needs root when this process is not root. */
export function requireRoot(what: string): void {
    if (typeof process.getuid === "function" && process.getuid() !== 0) {
        throw new Error(`${what} needs root (unshare creates Linux namespaces); ${RUN_AS_ROOT}`);
    }
}
