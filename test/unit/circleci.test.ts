import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

interface WorkflowJob {
  name?: string;
  type?: string;
  requires?: string[];
  context?: string[];
  region?: string;
  "serial-group"?: string;
  filters?: { branches?: { only?: string | string[] } };
}

const raw = readFileSync(new URL("../../.circleci/config.yml", import.meta.url), "utf8");
const config = parse(raw) as {
  version: number;
  orbs?: Record<string, string>;
  jobs: Record<string, { steps: unknown[]; parameters?: Record<string, unknown> }>;
  workflows: Record<string, { jobs: (string | Record<string, WorkflowJob>)[] }>;
};
// Read directly (not through cdk/settings.ts) so this test does not load aws-cdk-lib.
const regions = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")).context
  .regions as string[];

/** Every job invocation of every workflow: the job it runs and the name it has in the workflow. */
const invocations = Object.values(config.workflows).flatMap((wf) =>
  wf.jobs.map((entry) => {
    if (typeof entry === "string") return { job: entry, name: entry, args: {} as WorkflowJob };
    const [job, args] = Object.entries(entry)[0] as [string, WorkflowJob];
    return { job, name: args.name ?? job, args };
  }),
);
const byName = new Map(invocations.map((i) => [i.name, i]));
const deploys = invocations.filter((i) => i.job === "deploy");

describe(".circleci/config.yml", () => {
  it("is CircleCI 2.1", () => {
    expect(config.version).toBe(2.1);
  });

  it("defines every job a workflow runs (approvals and orb jobs aside)", () => {
    for (const { job, args } of invocations) {
      if (args.type === "approval" || job.includes("/")) continue;
      expect(Object.keys(config.jobs), job).toContain(job);
    }
  });

  it("only requires jobs that the workflow has", () => {
    for (const { name, args } of invocations) {
      for (const required of args.requires ?? [])
        expect(byName.has(required), `${name} requires ${required}`).toBe(true);
    }
  });

  it("installs, lints, typechecks, tests and synthesizes once", () => {
    for (const job of ["install", "lint", "typecheck", "test", "synth"])
      expect(byName.has(job), job).toBe(true);
    expect(raw.match(/npm run synth|cdk synth --/g)).toHaveLength(1);
    expect(byName.get("synth")?.args.requires?.sort()).toEqual(["lint", "test", "typecheck"]);
  });

  it("gives the test job the emulator and the Prometheus the tests need (they fail without them)", () => {
    const commands = (config.jobs.test?.steps ?? []).map(
      (s) => (s as { run?: { command?: string } }).run?.command ?? "",
    );
    expect(commands.some((c) => /pip install .*moto\[server\]/.test(c))).toBe(true);
    expect(commands.some((c) => /apt-get install .*\bprometheus$/.test(c))).toBe(true);
    expect(commands).toContain("npm run test:moto");
  });

  it("deploys every region of cdk.json", () => {
    expect(regions.length).toBeGreaterThan(0);
    expect(deploys.map((d) => d.args.region).sort()).toEqual([...regions].sort());
  });

  it("deploys one region at a time, after a manual approval, on main only", () => {
    const approval = invocations.find((i) => i.args.type === "approval");
    expect(approval?.args.requires).toEqual(["synth"]);
    const chain = [approval?.name, ...deploys.map((d) => d.name)];
    deploys.forEach((d, i) => {
      expect(d.args.requires, d.name).toEqual([chain[i]]);
      expect(d.args["serial-group"], d.name).toBeDefined();
    });
    for (const gated of [approval, ...deploys]) expect(gated?.args.filters?.branches?.only).toBe("main");
  });

  it("deploys the synthesized assembly with OIDC credentials, never static keys", () => {
    const steps = JSON.stringify(config.jobs.deploy?.steps);
    expect(steps).toContain("aws-cli/setup");
    expect(steps).toContain("role_arn");
    expect(steps).toContain("--app cdk.out");
    expect(raw).not.toMatch(/AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/);
    for (const d of deploys) expect(d.args.context, d.name).toEqual(["aws-production"]);
  });
});
