/** Test contexts for the shift strategies: staging's config in a shift mode, with edits. */
import { parseStackConfig } from "../../../config";
import { StackConfig } from "../../../config/schema";
import { ShiftContext, ShiftMode } from "../../../lib/shift";
import { encodeConfig, stackConfig, withEdit } from "../../helpers/stack";

export const STABLE_URL = "http://agenc-speculation.agenc-staging.svc.cluster.local:9090";
export const CANARY_URL = "http://agenc-speculation-canary.agenc-staging.svc.cluster.local:9090";
export const GREEN_URL = "http://agenc-speculation-green.agenc-staging.svc.cluster.local:9090";

/** Staging in a shift mode, with any further edits (key, path inside it, value). */
export function context(mode: ShiftMode, edits: [string, string | undefined, unknown][] = []): ShiftContext {
    const raw = edits.reduce((c, [k, p, v]) => withEdit(c, k, p, v), withEdit(stackConfig("staging"), "speculation:canary", "shiftMode", mode));
    const { config, namespace } = parseStackConfig(encodeConfig(raw));
    return { config, namespace, serviceUrl: config.canary.gate.serviceUrl! };
}

/** The canary judge's settings of a config. */
export const judge = (config: StackConfig) => config.canary.judge;
