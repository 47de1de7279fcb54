/**
 * The resources a stage's shift creates, one module per shift mode (the pure side of each mode is lib/shift/).
 * `shiftResources(mode)` is the factory; CanaryStage calls it and assigns what it returns.
 */
import { ShiftMode } from "../../lib/shift";
import { blueGreenShift } from "./blueGreen";
import { featureFlagShift } from "./featureFlag";
import { ingressWeightShift } from "./ingressWeight";
import { CreateShift } from "./site";

export * from "./site";
export { PATCH_FORCE } from "./ingressWeight";
export { SPECULATION_SECRET_KEY } from "./track";

const CREATORS: Record<ShiftMode, CreateShift> = {
    "feature-flag": featureFlagShift,
    "ingress-weight": ingressWeightShift,
    "blue-green": blueGreenShift,
};

/** What creates a stage's shift in `mode`. */
export function shiftResources(mode: ShiftMode): CreateShift {
    return CREATORS[mode];
}
