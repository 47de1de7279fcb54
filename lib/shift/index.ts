/**
 * The shift strategies (./strategy.ts) and their factory: the one place that maps `speculation:canary.shiftMode` to
 * its implementation.  A fourth mode is a file beside these three and a line in STRATEGIES.
 */
import { SHIFT_MODES } from "../../config/schema";
import { blueGreen } from "./blueGreen";
import { featureFlag } from "./featureFlag";
import { ingressWeight } from "./ingressWeight";
import { ShiftMode, ShiftStrategy } from "./strategy";

export * from "./strategy";
export { canaryReplicas } from "./ingressWeight";

const STRATEGIES: Record<ShiftMode, ShiftStrategy> = {
    "feature-flag": featureFlag,
    "ingress-weight": ingressWeight,
    "blue-green": blueGreen,
};

/** The strategy of a shift mode; anything else is refused, naming the key and the modes there are. */
export function shiftStrategy(mode: ShiftMode): ShiftStrategy {
    const strategy = Object.hasOwn(STRATEGIES, mode) ? STRATEGIES[mode] : undefined;
    if (!strategy) throw new Error(`speculation:canary.shiftMode: must be one of: ${SHIFT_MODES.join(", ")} (got ${JSON.stringify(mode)})`);
    return strategy;
}
