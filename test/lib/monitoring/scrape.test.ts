/** The stack's scrape jobs (lib/monitoring/scrape.ts). */
import { expect } from "chai";
import { scrapeJobs } from "../../../lib/monitoring/scrape";

describe("scrape jobs", () => {
    it("scrape a host's node exporters once, however many nodes share the host (a ScrapeConfig's targets are a set)", () => {
        const jobs = scrapeJobs(["127.0.0.1", "127.0.0.1", "10.0.0.2"]);
        const withTargets = jobs.filter((j) => j.staticTargets);
        expect(withTargets.length, "node jobs").to.be.greaterThan(0);
        for (const j of withTargets) {
            expect(j.staticTargets, j.job).to.have.length(2);
            expect(new Set(j.staticTargets).size, `${j.job}: no duplicate target`).to.equal(j.staticTargets!.length);
        }
    });
});
