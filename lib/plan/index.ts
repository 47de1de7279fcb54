/**
 * The plan of a release: the canary stages the config declares (./stages.ts) and the whole update resolved from the
 * loaded config (./release.ts, `releasePlan`).
 */
export * from "./stages";
export * from "./release";
export { imageOf, SigningPlan, SigningSummary } from "./signing";
export { canaryReplicas } from "../shift";
