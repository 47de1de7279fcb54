/**
 * Every mode the program renders, as configs: staging and production, each monitoring mode, each shift mode (with
 * blue-green's two lower-step modes) at 50 %, so each mode's new track (canary, green) is declared.  What a linter
 * of the rendered manifests (test/lint/kubeScore.int.test.ts) runs on.
 */
import { MONITORING_MODES, SHIFT_MODES } from "../../config/schema";
import { stackConfig, withEdit } from "./stack";

/** A digest for release.images.*.previousDigest: production's two-track modes pin the stable track by its own. */
const PREVIOUS_DIGEST = `sha256:${"ab".repeat(32)}`;

export interface RenderMode {
    /** `staging/standalone/blue-green-mirror`. */
    name: string;
    stack: "staging" | "production";
    config: Record<string, unknown>;
}

export function renderModes(): RenderMode[] {
    const modes: RenderMode[] = [];
    for (const stack of ["staging", "production"] as const) {
        for (const monitoring of MONITORING_MODES) {
            for (const shift of SHIFT_MODES) {
                for (const lowerSteps of shift === "blue-green" ? ["hold", "mirror"] : [undefined]) {
                    let c = withEdit(stackConfig(stack), "speculation:monitoring", "mode", monitoring);
                    c = withEdit(c, "speculation:canary", "shiftMode", shift);
                    if (lowerSteps) c = withEdit(c, "speculation:canary", "blueGreen.lowerSteps", lowerSteps);
                    c = withEdit(c, "speculation:rolloutPercentage", undefined, 50);
                    if (stack === "production") {
                        for (const image of ["speculation", "proofWorker"]) c = withEdit(c, "speculation:release", `images.${image}.previousDigest`, PREVIOUS_DIGEST);
                    }
                    modes.push({ name: `${stack}/${monitoring}/${shift}${lowerSteps ? `-${lowerSteps}` : ""}`, stack, config: c });
                }
            }
        }
    }
    return modes;
}
