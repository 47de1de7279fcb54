/**
 * `npm run render` (scripts/render.ts): the manifests it writes are accepted by `kubectl apply` on a real control
 * plane, and every secret value is redacted one by one (the Secret keeps its keys, so its references still resolve).
 */
import { expect } from "chai";
import { parseAllDocuments } from "yaml";
import { REDACTED, renderStack } from "../../scripts/render";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import { danglingReferences, settled, staticVolumesFor } from "../helpers/kube";
import { stackConfig, withEdit } from "../helpers/stack";

const SLACK = "https://hooks.slack.example/T000/B000/RENDERSECRET";
const PAGERDUTY = "fedcba9876543210fedcba9876543210";

describe("npm run render: manifests kubectl apply accepts, secrets redacted value by value", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;
    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the binaries (cold: ~15 min on 2 idle cores)
        cp = await controlPlane();
    });

    for (const [stack, mode] of [["staging", "operator"], ["production", "standalone"]] as const) {
        it(`${stack} (${mode} monitoring, both alert receivers set as secrets)`, async () => {
            let config = withEdit(stackConfig(stack), "speculation:monitoring", "mode", mode);
            config = withEdit(config, "speculation:alertReceivers", undefined, { slackWebhookUrl: SLACK, pagerdutyRoutingKey: PAGERDUTY });
            const rendered = await renderStack(stack, config, ["speculation:alertReceivers"]);

            // Redaction: no secret value anywhere in the text; each Secret keeps every key, each value redacted.
            expect(rendered.yaml).to.not.contain(SLACK);
            expect(rendered.yaml).to.not.contain(PAGERDUTY);
            expect(rendered.yaml).to.not.contain("mock-admin-token");
            const docs = parseAllDocuments(rendered.yaml).map((d) => d.toJS());
            const secrets = docs.filter((d) => d.kind === "Secret");
            const receivers = secrets.find((s) => s.metadata.name === "agenc-alert-receivers");
            expect(receivers.stringData).to.deep.equal({ "slack-webhook-url": REDACTED, "pagerduty-routing-key": REDACTED });
            const admin = secrets.find((s) => s.metadata.name === "agenc-speculation-secrets");
            expect(admin.stringData).to.deep.equal({ ADMIN_TOKEN: REDACTED });

            // kubectl apply (client-side, as an operator would run it), then the same file server-side with strict
            // field validation: both accept every document.
            // The cluster's storage for the standalone Prometheus's and Alertmanager's claims (a cloud's default
            // StorageClass would provision it; the test cluster has none).
            const volumes = staticVolumesFor(docs.filter((d) => d?.kind).map((d) => ({ ...d, metadata: { ...d.metadata, namespace: d.metadata.namespace ?? `agenc-${stack}` } })));
            if (volumes.length > 0) await cp.kubectl(["apply", "-f", "-"], volumes.map((v) => JSON.stringify(v)).join("\n---\n"));
            const out = await cp.kubectl(["apply", "-f", "-"], rendered.yaml);
            expect(out.trim().split("\n")).to.have.length(docs.length);
            await cp.kubectl(["apply", "--server-side", "--validate=strict", "--field-manager=render-check", "--force-conflicts", "-f", "-"], rendered.yaml);
            const snap = await settled(cp, `agenc-${stack}`);
            expect(danglingReferences(snap)).to.deep.equal([]);
            const live = snap.secrets.find((s) => s.metadata.name === "agenc-alert-receivers");
            expect(Object.keys(live.data).sort()).to.deep.equal(["pagerduty-routing-key", "slack-webhook-url"]);
        });
    }
});
