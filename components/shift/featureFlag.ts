/** Feature-flag mode's shift: a TrafficShift sets the admin API's rollout percentage (lib/shift/featureFlag.ts). */
import { TrafficShift } from "../../providers/trafficShift";
import { CreateShift } from "./site";

/** Removing the stage hands traffic back to the previous stage's percentage. */
export const featureFlagShift: CreateShift = (site) => ({
    shift: new TrafficShift(`${site.name}-shift`, {
        serviceUrl: site.serviceUrl,
        adminToken: site.adminToken,
        percentage: site.step.percentage,
        previousPercentage: site.step.previousPercentage,
        stage: site.name,
        ...(site.preShift ? { preShift: site.preShift } : {}),
        ...(site.checkedAt ? { checkedAt: site.checkedAt } : {}),
    }, { parent: site.stage, dependsOn: site.after }),
});
