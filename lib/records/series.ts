/**
 * The rollout series a deployment record pushes to the Pushgateway, and the PromQL the canary dashboard reads them
 * with: one place for the names, so the pusher and the dashboard cannot drift apart.
 */
export const RECORD_JOB = "agenc_deployments";
/**
 * Each version is its own Pushgateway group ({environment, version}): a push replaces only that version's series,
 * so a revert never erases the record of the release it reverted, and older releases stay on the dashboard.
 */
export const RECORD_GROUPING = ["environment", "version"] as const;

export const RECORD_SERIES = {
    /** Unix time of the last record that released the version (any stage), {environment, version}. */
    releaseTimestamp: "agenc_deployment_release_timestamp_seconds",
    /** Rollout percentage the release reached, {environment, version}. */
    rolloutPercentage: "agenc_deployment_rollout_percentage",
    /** Canary stages reached (declared and passed), {environment, version}. */
    stagesReached: "agenc_deployment_stages_reached",
    /** Seconds the update took up to the record, {environment, version}. */
    duration: "agenc_deployment_duration_seconds",
    /** 1, with everything else as labels (previous version, operator, verdicts), {environment, version, outcome, …}. */
    info: "agenc_deployment_info",
    /** Unix time of the last revert (full or emergency rollback), {environment, version, mode}. */
    revertTimestamp: "agenc_deployment_revert_timestamp_seconds",
    /** Share of the SLO window's error budget each stage spent over its bake, {environment, version, stage} (lib/slo). */
    stageBudgetSpent: "agenc_deployment_stage_error_budget_spent_ratio",
} as const;

/**
 * Releases and reverts as Grafana annotations: the series' value is the event's time (milliseconds), read with
 * `useValueForTime`, one annotation per version (and per rollback mode).
 */
export const RELEASES_EXPR = `max by (environment, version) (${RECORD_SERIES.releaseTimestamp}) * 1000`;
export const REVERTS_EXPR = `max by (environment, version, mode) (${RECORD_SERIES.revertTimestamp}) * 1000`;
