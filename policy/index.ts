/**
 * The go/no-go policy pack.  Enforcement comes from the stack's pack config, not from here:
 *   pulumi preview --stack staging    --policy-pack policy --policy-pack-config policy/config/staging.json     (advisory)
 *   pulumi preview --stack production --policy-pack policy --policy-pack-config policy/config/production.json  (mandatory)
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("agenc-go-no-go", {
    // Without a config file every policy warns; each stack's config sets "all" (and any threshold).
    enforcementLevel: "advisory",
    policies,
});
