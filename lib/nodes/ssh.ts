/**
 * One SSH session to one node (ssh2): the host key must equal the pinned key from config — a mismatch is a refusal,
 * never a prompt or a bypass — and the private key comes from the stack's secret.
 */
import type { Client, ConnectConfig } from "ssh2";
import type { NodeAddress } from "./address";

export type { NodeAddress };

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

export type SshErrorReason = "host-key-mismatch" | "connect" | "timeout" | "exec" | "upload";
export type SshError = Error & { reason: SshErrorReason };

/** A plain Error with a reason (a subclass of Error loses its message in a serialised dynamic provider). */
export function sshError(message: string, reason: SshErrorReason): SshError {
    return Object.assign(new Error(message), { name: "SshError", reason });
}

/** The raw public key blob of a pinned "type base64" key. */
export function pinnedKeyBlob(hostKey: string): Buffer {
    const [type, b64] = hostKey.trim().split(/\s+/);
    if (!type || !b64) throw sshError(`host key "${hostKey}" is not "<type> <base64>"`, "host-key-mismatch");
    return Buffer.from(b64, "base64");
}

export interface NodeSession {
    /** One command on its own channel: sshd starts the user's login shell for it (see `run` for the cheap path). */
    exec(command: string, timeoutMs?: number): Promise<ExecResult>;
    /**
     * One command through the session's long-lived shell: the shell is started once per connection (one channel),
     * each command runs in a subshell with stdin from /dev/null, stderr folded into stdout, and ends with a marker
     * line carrying its exit code.  Commands run one at a time, in order.  Why: every exec channel makes sshd start
     * the user's login shell, and Debian's bash sources ~/.bashrc for commands run by sshd — on this machine root's
     * .bashrc runs `pyenv init`, ~200 ms idle and ~500 ms loaded, per exec.  Paid once per node here.
     */
    run(command: string, timeoutMs?: number): Promise<ExecResult>;
    /** Uploads over the connection's one SFTP session (opened on first use, kept). */
    upload(localPath: string, remotePath: string, mode?: number): Promise<void>;
    /** Writes a small file over the SFTP session (no shell, no wait behind a running command). */
    writeFile(remotePath: string, data: string | Buffer): Promise<void>;
    /** True once the connection dropped: a pool reconnects instead of reusing it. */
    readonly closed: boolean;
    close(): void;
}

export function connect(node: NodeAddress, privateKey: string, timeoutMs = 15_000): Promise<NodeSession> {
    const { Client } = require("ssh2") as typeof import("ssh2");
    const expected = pinnedKeyBlob(node.hostKey);
    return new Promise((resolve, reject) => {
        const client: Client = new Client();
        let presented: Buffer | undefined;
        let settled = false;
        const fail = (e: Error) => { if (!settled) { settled = true; client.end(); reject(e); } };
        client.on("ready", () => {
            settled = true;
            // Small request/answer exchanges: without TCP_NODELAY, Nagle's algorithm meets the peer's delayed ACK
            // and each command waits ~40 ms for nothing.
            client.setNoDelay(true);
            resolve(session(client, node));
        });
        client.on("error", (e: Error) => {
            if (presented && !presented.equals(expected)) {
                fail(sshError(`${node.name} (${node.host}:${node.port}) presented a host key that is not the pinned one: refused`, "host-key-mismatch"));
            } else {
                fail(sshError(`${node.name} (${node.host}:${node.port}): ${e.message}`, /timed out/i.test(e.message) ? "timeout" : "connect"));
            }
        });
        const config: ConnectConfig = {
            host: node.host, port: node.port, username: node.user, privateKey, readyTimeout: timeoutMs,
            // A pooled connection may sit idle through a batch pause: keepalives notice a dead peer.
            keepaliveInterval: 15_000, keepaliveCountMax: 4,
            // Only the pinned key's algorithm is offered, so the server cannot present another of its keys.
            algorithms: { serverHostKey: [node.hostKey.split(/\s+/)[0] as never] },
            hostVerifier: (key: Buffer) => {
                presented = key;
                return key.equals(expected);
            },
        };
        client.connect(config);
    });
}

function session(client: Client, node: NodeAddress): NodeSession {
    const { randomBytes } = require("crypto") as typeof import("crypto");
    // A dropped connection fails whatever is in flight at once instead of leaving it hanging.
    const pending = new Set<(e: Error) => void>();
    let closed = false;
    const dropped = () => {
        closed = true;
        for (const reject of pending) reject(sshError(`${node.name}: connection closed`, "connect"));
        pending.clear();
    };
    client.on("close", dropped);
    client.on("error", dropped);
    const tracked = <T>(start: (resolve: (v: T) => void, reject: (e: Error) => void) => void) => new Promise<T>((resolve, reject) => {
        if (closed) return reject(sshError(`${node.name}: connection closed`, "connect"));
        const fail = (e: Error) => { pending.delete(fail); reject(e); };
        pending.add(fail);
        start((v) => { pending.delete(fail); resolve(v); }, fail);
    });

    // The long-lived shell behind run(): one channel, commands written to its stdin, results read up to a marker.
    type Waiter = { stream: import("ssh2").ClientChannel; marker: string; resolve: (r: ExecResult) => void; reject: (e: Error) => void };
    let shell: Promise<import("ssh2").ClientChannel> | undefined;
    let buffer = "";
    let waiter: Waiter | undefined;
    let queue: Promise<unknown> = Promise.resolve();
    const openShell = (): Promise<import("ssh2").ClientChannel> => {
        if (shell) return shell;
        const opened: Promise<import("ssh2").ClientChannel> = new Promise((resolve, reject) => {
        client.exec("exec /bin/sh", (err, stream) => {
            if (err) return reject(sshError(`${node.name}: cannot start a shell: ${err.message}`, "exec"));
            stream.on("data", (c: Buffer) => {
                buffer += c.toString();
                if (!waiter) return;
                const at = buffer.indexOf(`\n${waiter.marker} `);
                if (at < 0) return;
                const end = buffer.indexOf("\n", at + 1 + waiter.marker.length);
                if (end < 0) return;
                const code = Number(buffer.slice(at + 1 + waiter.marker.length + 1, end));
                const out = buffer.slice(0, at);
                buffer = buffer.slice(end + 1);
                const w = waiter;
                waiter = undefined;
                w.resolve({ code, stdout: out, stderr: "" });
            });
            stream.stderr.on("data", (c: Buffer) => (buffer += c.toString()));
            stream.on("close", () => {
                if (shell === opened) shell = undefined;
                if (waiter && waiter.stream === stream) { const w = waiter; waiter = undefined; w.reject(sshError(`${node.name}: the session's shell ended`, "exec")); }
            });
            resolve(stream);
        });
        });
        opened.catch(() => { if (shell === opened) shell = undefined; });
        return (shell = opened);
    };
    const runOne = (command: string, timeoutMs: number) => tracked<ExecResult>((resolve, reject) => {
        const opened = openShell();
        opened.then((stream) => {
            const marker = `__rollout_${randomBytes(8).toString("hex")}`;
            const timer = setTimeout(() => {
                waiter = undefined;
                // This shell may still be busy with the command: the next command gets a new one.
                if (shell === opened) shell = undefined;
                stream.close();
                reject(sshError(`${node.name}: command did not finish within ${timeoutMs} ms: ${command.split("\n")[0]}`, "timeout"));
            }, timeoutMs);
            waiter = {
                stream, marker,
                resolve: (r) => { clearTimeout(timer); resolve(r); },
                reject: (e) => { clearTimeout(timer); reject(e); },
            };
            buffer = "";
            // A subshell keeps `exit` and `cd` of one command from ending or moving the session's shell.
            stream.write(`(\n${command}\n) </dev/null 2>&1; printf '\\n%s %d\\n' ${marker} $?\n`);
        }, reject);
    });

    let sftp: Promise<import("ssh2").SFTPWrapper> | undefined;
    const openSftp = () => sftp ??= new Promise((resolve, reject) => {
        client.sftp((err, s) => {
            if (err) { sftp = undefined; return reject(sshError(`${node.name}: no SFTP: ${err.message}`, "upload")); }
            s.on("close", () => { sftp = undefined; });
            resolve(s);
        });
    });

    return {
        get closed() { return closed; },
        exec: (command, timeoutMs = 120_000) => tracked<ExecResult>((resolve, reject) => {
            client.exec(command, (err, stream) => {
                if (err) return reject(sshError(`${node.name}: cannot run a command: ${err.message}`, "exec"));
                let stdout = "";
                let stderr = "";
                const timer = setTimeout(() => {
                    stream.close();
                    reject(sshError(`${node.name}: command did not finish within ${timeoutMs} ms: ${command}`, "timeout"));
                }, timeoutMs);
                stream.on("data", (c: Buffer) => (stdout += c));
                stream.stderr.on("data", (c: Buffer) => (stderr += c));
                stream.on("close", (code: number | null) => {
                    clearTimeout(timer);
                    resolve({ code: code ?? -1, stdout, stderr });
                });
            });
        }),
        run: (command, timeoutMs = 120_000) => {
            const result = queue.then(() => runOne(command, timeoutMs));
            queue = result.catch(() => undefined);
            return result;
        },
        upload: (localPath, remotePath, mode = 0o644) => tracked<void>((resolve, reject) => {
            openSftp().then((s) => s.fastPut(localPath, remotePath, { mode }, (e) => {
                if (e) reject(sshError(`${node.name}: upload of ${remotePath} failed: ${e.message}`, "upload"));
                else resolve();
            }), reject);
        }),
        writeFile: (remotePath, data) => tracked<void>((resolve, reject) => {
            openSftp().then((s) => s.writeFile(remotePath, data, (e) => {
                if (e) reject(sshError(`${node.name}: cannot write ${remotePath}: ${e.message}`, "upload"));
                else resolve();
            }), reject);
        }),
        close: () => { closed = true; client.end(); },
    };
}
