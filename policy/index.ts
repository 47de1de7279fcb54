/**
 * The go/no-go policy pack.  Enforcement comes from the stack's pack config, not from here:
 *   pulumi preview --stack staging    --policy-pack policy --policy-pack-config policy/config/staging.json     (advisory)
 *   pulumi preview --stack production --policy-pack policy --policy-pack-config policy/config/production.json  (mandatory)
 */
import { PolicyPack } from "@pulumi/policy";
import { exitWithEngine } from "../lib/lifecycle/engine";
import { policies } from "./policies";

// The pack's host is a gRPC server the engine starts; a killed `pulumi up` would leave it running for ever.  It exits
// once its engine is gone (lib/lifecycle/engine.ts, the watch every dynamic provider uses); elsewhere this is a no-op.
exitWithEngine();

new PolicyPack("agenc-go-no-go", {
    // Without a config file every policy warns; each stack's config sets "all" (and any threshold).
    enforcementLevel: "advisory",
    policies,
});
