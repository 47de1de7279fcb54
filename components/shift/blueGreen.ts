/**
 * Blue-green mode's shift (lib/shift/blueGreen.ts): the top declared stage owns green (ConfigMap, Deployment, its own
 * Service, ServiceMonitor) and the smoke tests against green's Service, created as soon as the service is, not after
 * a gate.  Lower stages hold (blue keeps serving); the 100 % stage's shift is the primary Service's selector switch
 * to green (program.ts orders it after the smoke tests and the previous gate).
 */
import { GREEN_NAME } from "../../lib/shift";
import { CreateShift } from "./site";
import { newTrack, trackSmoke } from "./track";

export const blueGreenShift: CreateShift = (site) => {
    const green = site.isTop ? greenWorkload(site) : undefined;
    // Lower stages hold: nothing moves, blue keeps serving.  At 100 % the primary Service's switch is the shift.
    const shift = site.step.percentage === 100 && site.primarySwitch ? site.primarySwitch : (green?.smokeTest ?? site.stage);
    return { shift, ...green };
};

function greenWorkload(site: Parameters<CreateShift>[0]) {
    if (!site.smoke) throw new Error("CanaryStage: blue-green mode needs args.smoke");
    const withAliases = site.owned(site.dependsOn);
    const { deployment, service } = newTrack(site, GREEN_NAME, "green", withAliases);
    const smokeTest = trackSmoke(site, "green", withAliases, [deployment, service]);
    return { trackDeployment: deployment, ...(smokeTest ? { smokeTest } : {}) };
}
