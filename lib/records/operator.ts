/**
 * Who a deployment record names when the stack's config does not say (`records.operator`, `nodes.operator`).
 */
import { userInfo } from "os";

/**
 * The configured name; else, in GitHub Actions, the user who triggered the workflow (`GITHUB_ACTOR`: the runner's
 * own account names nobody); else the user running `pulumi` as seed 001's `Operator: $(whoami)` names them (the
 * effective user, also where `$USER` is unset: containers, CI runners, cron); else `$USER`; else "unknown".
 */
export function operatorName(configured?: string, env: NodeJS.ProcessEnv = process.env, whoami: () => string = () => userInfo().username): string {
    if (configured) return configured;
    if (env.GITHUB_ACTIONS === "true" && env.GITHUB_ACTOR) return env.GITHUB_ACTOR;
    try {
        const name = whoami();
        if (name) return name;
    } catch {
        // No passwd entry for the uid (an arbitrary uid in a container): fall through.
    }
    return env.USER || "unknown";
}
