/** The canary plan as the program declares it: the steps up to the target percentage, with effective thresholds. */
import { parseDuration } from "../time/duration";
import { StackConfig } from "../../config/schema";
import { DEFAULT_STAGE_THRESHOLDS, StageThresholds } from "../../config/thresholds";

export interface PlannedStage {
    index: number;
    name: string;
    percentage: number;
    bake: string;
    bakeSeconds: number;
    thresholds: StageThresholds;
    /** The percentage the stage hands back to when it is removed (previous stage, or 0). */
    previousPercentage: number;
}

/** Defaults, tightened by `speculation:thresholds`, tightened again by the step's own thresholds. */
export function effectiveThresholds(config: StackConfig, stepIndex: number): StageThresholds {
    const step = config.canary.steps[stepIndex];
    const merged = { ...DEFAULT_STAGE_THRESHOLDS };
    for (const source of [config.thresholds, step?.thresholds ?? {}]) {
        for (const [key, value] of Object.entries(source)) {
            if (value !== undefined) merged[key as keyof StageThresholds] = Math.min(merged[key as keyof StageThresholds], value);
        }
    }
    return merged;
}

export function plannedStages(config: StackConfig): PlannedStage[] {
    const target = config.service.speculationEnabled ? config.rolloutPercentage : 0;
    const stages: PlannedStage[] = [];
    config.canary.steps.forEach((step, index) => {
        if (step.percentage > target) return;
        stages.push({
            index,
            name: stageName(step.percentage, index),
            percentage: step.percentage,
            bake: step.bake,
            bakeSeconds: parseDuration(step.bake),
            thresholds: effectiveThresholds(config, index),
            previousPercentage: index === 0 ? 0 : config.canary.steps[index - 1].percentage,
        });
    });
    return stages;
}

export function stageName(percentage: number, index: number): string {
    return `stage-${index + 1}-${percentage}pct`;
}
