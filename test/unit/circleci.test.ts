import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";

interface WorkflowJob {
  name?: string;
  type?: string;
  requires?: string[];
  context?: string[];
  stage?: string;
  region?: string;
  "serial-group"?: string;
  filters?: { branches?: { only?: string | string[] } };
}
type Step = string | Record<string, unknown>;
interface Reusable {
  steps: Step[];
  parameters?: Record<string, { default?: unknown }>;
  executor?: string;
}

const root = new URL("../../", import.meta.url);
const raw = readFileSync(new URL(".circleci/config.yml", root), "utf8");
const config = parse(raw) as {
  version: number;
  orbs?: Record<string, string>;
  executors: Record<string, { docker?: { image: string }[] }>;
  commands: Record<string, Reusable>;
  jobs: Record<string, Reusable>;
  workflows: Record<string, { jobs: (string | Record<string, WorkflowJob>)[] }>;
};
// Read directly (not through cdk/settings.ts) so this test does not load aws-cdk-lib.
const cdkJson = readFileSync(new URL("cdk.json", root), "utf8");
const regions = JSON.parse(cdkJson).context.regions as string[];

/** Every job invocation of every workflow: the job it runs and the name it has in the workflow. */
const invocations = Object.values(config.workflows).flatMap((wf) =>
  wf.jobs.map((entry) => {
    if (typeof entry === "string") return { job: entry, name: entry, args: {} as WorkflowJob };
    const [job, args] = Object.entries(entry)[0] as [string, WorkflowJob];
    return { job, name: args.name ?? job, args };
  }),
);
const byName = new Map(invocations.map((i) => [i.name, i]));
const named = (name: string) => {
  const invocation = byName.get(name);
  if (!invocation) throw new Error(`the workflow has no job named ${name}`);
  return invocation;
};
const deploys = invocations.filter((i) => i.job === "deploy");
const production = deploys.filter((d) => d.args.stage === "production");
const diffs = invocations.filter((i) => i.job === "diff");
const approval = invocations.find((i) => i.args.type === "approval");

/** Every job `name` requires, directly or through others. */
function ancestors(name: string, seen = new Set<string>()): Set<string> {
  for (const required of byName.get(name)?.args.requires ?? [])
    if (!seen.has(required)) {
      seen.add(required);
      ancestors(required, seen);
    }
  return seen;
}

const substitute = (text: string, params: Record<string, string>) =>
  text.replace(/<<\s*parameters\.([\w-]+)\s*>>/g, (_, key: string) => params[key] ?? "");
const defaults = (reusable: Reusable) =>
  Object.fromEntries(
    Object.entries(reusable.parameters ?? {}).map(([key, spec]) => [key, String(spec.default ?? "")]),
  );

interface Expanded {
  kind: string;
  name?: string;
  command?: string;
  args?: unknown;
}

/** A job's steps as CircleCI runs them: commands inlined, parameters substituted, `when` decided. */
function expand(steps: Step[], params: Record<string, string>): Expanded[] {
  return steps.flatMap((step): Expanded[] => {
    const [kind, args] =
      typeof step === "string" ? [step, {}] : (Object.entries(step)[0] as [string, unknown]);
    const command = config.commands[kind];
    if (command) {
      const given = Object.fromEntries(
        Object.entries((args ?? {}) as Record<string, unknown>).map(([k, v]) => [
          k,
          substitute(String(v), params),
        ]),
      );
      return expand(command.steps, { ...defaults(command), ...given });
    }
    if (kind === "when") {
      const { condition, steps: inner } = args as { condition: { equal: string[] }; steps: Step[] };
      const [a, b] = condition.equal.map((v) => substitute(String(v), params));
      return a === b ? expand(inner, params) : [];
    }
    if (kind === "run") {
      const run = typeof args === "string" ? { command: args } : (args as { name?: string; command: string });
      return [
        { kind, name: run.name && substitute(run.name, params), command: substitute(run.command, params) },
      ];
    }
    return [{ kind, args: JSON.parse(substitute(JSON.stringify(args ?? {}), params)) }];
  });
}

/** The expanded steps of one workflow job. */
function stepsOf(name: string): Expanded[] {
  const { job, args } = named(name);
  const definition = config.jobs[job] as Reusable;
  const given = Object.fromEntries(Object.entries(args).map(([k, v]) => [k, String(v)]));
  return expand(definition.steps, { ...defaults(definition), ...given });
}
const runStep = (name: string, stepName: string) => {
  const step = stepsOf(name).find((s) => s.name === stepName);
  if (!step?.command) throw new Error(`${name} has no step named ${stepName}`);
  return step.command;
};

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});
/** A scratch directory with cdk.json, a synthesized assembly's templates and `bin/` first on the PATH. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "circleci-"));
  dirs.push(dir);
  mkdirSync(join(dir, "cdk.out"));
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "cdk.json"), cdkJson);
  for (const region of regions)
    writeFileSync(join(dir, "cdk.out", `PrometheusEcsDiscovery-${region}.template.json`), "{}");
  return dir;
}
function fakeCommand(dir: string, name: string, script: string): void {
  writeFileSync(join(dir, "bin", name), `#!/usr/bin/env bash\n${script}\n`);
  chmodSync(join(dir, "bin", name), 0o755);
}
/** Runs a step's command as CircleCI does (bash -eo pipefail, $BASH_ENV sourced first). */
function bash(dir: string, command: string, env: Record<string, string> = {}) {
  const bashEnv = join(dir, "bash_env");
  if (!existsSync(bashEnv)) writeFileSync(bashEnv, "");
  const result = spawnSync("bash", ["-eo", "pipefail", "-c", command], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}`, BASH_ENV: bashEnv, ...env },
  });
  return {
    status: result.status,
    out: `${result.stdout}${result.stderr}`,
    bashEnv: readFileSync(bashEnv, "utf8"),
  };
}
const stage = { DEPLOY_REGION: regions[0] as string, DEPLOY_STACK: `PrometheusEcsDiscovery-${regions[0]}` };
const awsSteps = (name: string) =>
  named(name).args.type === "approval" ? [] : stepsOf(name).filter((s) => s.kind === "aws-cli/setup");
const commandsOf = (name: string) => stepsOf(name).flatMap((s) => (s.command ? [s.command] : []));

describe(".circleci/config.yml: structure", () => {
  it("is CircleCI 2.1, and every job a workflow runs and requires exists", () => {
    expect(config.version).toBe(2.1);
    for (const { name, job, args } of invocations) {
      if (args.type !== "approval") expect(Object.keys(config.jobs), job).toContain(job);
      for (const required of args.requires ?? [])
        expect(byName.has(required), `${name} requires ${required}`).toBe(true);
    }
  });

  it("installs, lints, typechecks, tests and synthesizes once", () => {
    for (const job of ["install", "lint", "typecheck", "test", "synth"])
      expect(byName.has(job), job).toBe(true);
    expect(raw.match(/npm run synth|cdk synth --/g)).toHaveLength(1);
    expect(named("synth").args.requires?.sort()).toEqual(["lint", "test", "typecheck"]);
  });

  it("gives the test job moto, Prometheus, and the rule checks that need promtool", () => {
    const commands = commandsOf("test");
    const prometheus = commands.findIndex((c) => /apt-get install .*\bprometheus$/.test(c));
    expect(commands.some((c) => /pip install .*moto\[server\]/.test(c))).toBe(true);
    expect(prometheus).toBeGreaterThanOrEqual(0);
    expect(commands.indexOf("npm run check:rules")).toBeGreaterThan(prometheus);
    expect(commands).toContain("npm run test:moto");
  });

  it("runs only npm scripts that package.json has", () => {
    const scripts = Object.keys(JSON.parse(readFileSync(new URL("package.json", root), "utf8")).scripts);
    const used = [...raw.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
    expect(used).toContain("check:rules");
    for (const script of used) expect(scripts, script).toContain(script);
  });

  it("runs Node.js 22 or newer (20 is end of life)", () => {
    const images = Object.values(config.executors).flatMap((e) => (e.docker ?? []).map((d) => d.image));
    expect(config.executors.node?.docker?.[0]?.image).toMatch(/^cimg\/node:24\./);
    for (const image of images.filter((i) => /^(cimg\/)?node:/.test(i)))
      expect(Number(/node:(\d+)/.exec(image)?.[1]), image).toBeGreaterThanOrEqual(22);
    // The test job's image (cimg/python:*-node) does not name its Node.js: the job checks it.
    const guard = commandsOf("test").find((c) => c.includes("process.versions.node"));
    expect(guard).toMatch(/major < 22/);
    expect(bash(scratch(), guard as string).status).toBe(0);
  });
});

describe(".circleci/config.yml: the order of a release", () => {
  it("diffs staging and every production region, in jobs stored as artifacts, before the approval", () => {
    expect(diffs.map((d) => d.args.stage ?? "")).toContain("staging");
    expect(diffs.filter((d) => d.args.stage === "production").map((d) => d.args.region)).toEqual(regions);
    for (const diff of diffs) {
      expect(ancestors(approval?.name as string), diff.name).toContain(diff.name);
      expect(ancestors(diff.name)).toContain("synth");
    }
    expect(stepsOf(diffs[0]?.name as string).some((s) => s.kind === "store_artifacts")).toBe(true);
    expect(ancestors("deploy-staging")).toContain(diffs.find((d) => d.args.stage === "staging")?.name);
  });

  it("deploys staging and smoke-checks it before the approval", () => {
    const staging = deploys.filter((d) => d.args.stage === "staging");
    expect(staging).toHaveLength(1);
    const smoke = invocations.filter((i) => i.job === "smoke");
    expect(smoke).toHaveLength(1);
    expect(ancestors(smoke[0]?.name as string)).toContain(staging[0]?.name);
    expect(ancestors(approval?.name as string)).toEqual(
      expect.objectContaining(new Set([staging[0]?.name, smoke[0]?.name])),
    );
    for (const job of [...staging, ...smoke]) expect(job.args.context, job.name).toEqual(["aws-staging"]);
  });

  it("deploys production after the approval, one region at a time, in the order of cdk.json", () => {
    expect(production.map((d) => d.args.region)).toEqual(regions);
    const chain = [approval?.name, ...production.map((d) => d.name)];
    production.forEach((d, i) => {
      expect(d.args.requires, d.name).toEqual([chain[i]]);
      expect(d.args.context, d.name).toEqual(["aws-production"]);
    });
    expect(named("release-complete").args.requires).toEqual([production.at(-1)?.name]);
  });

  it("puts every deploy and the smoke check in one serial group, and no gate in it", () => {
    const grouped = invocations.filter((i) => i.args["serial-group"]);
    expect(new Set(grouped.map((i) => i.args["serial-group"])).size).toBe(1);
    for (const job of [...deploys, named("smoke-staging")])
      expect(job.args["serial-group"], job.name).toBeDefined();
    for (const gate of [approval, named("release-complete"), ...diffs])
      expect(gate?.args["serial-group"], gate?.name).toBeUndefined();
  });

  it("runs everything that reaches AWS on main only, with a context", () => {
    for (const i of invocations.filter((i) => i.args.type === "approval" || awsSteps(i.name).length > 0)) {
      expect(i.args.filters?.branches?.only, i.name).toBe("main");
      if (i.args.type !== "approval") expect(i.args.context?.length, i.name).toBe(1);
    }
  });

  it("uses OIDC role sessions, never static keys", () => {
    expect(raw).not.toMatch(
      /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws_access_key_id|aws_secret_access_key/i,
    );
    const loggingIn = invocations.filter((i) => awsSteps(i.name).length > 0);
    expect(loggingIn.map((i) => i.job).sort()).toEqual(
      expect.arrayContaining(["deploy", "diff", "sidecar-image", "smoke"]),
    );
    for (const i of loggingIn)
      for (const step of awsSteps(i.name)) expect((step.args as { role_arn?: string }).role_arn).toBeTruthy();
    expect(commandsOf("deploy-staging").join("\n")).toContain("--app cdk.out");
  });
});

describe(".circleci/config.yml: what the steps do", () => {
  it("selects the staging stack from STAGING_REGION or the first region, only from the assembly", () => {
    const select = runStep("deploy-staging", "Select the staging stack");
    let dir = scratch();
    expect(bash(dir, select).bashEnv).toContain(`DEPLOY_STACK=PrometheusEcsDiscovery-${regions[0]}`);
    const last = regions.at(-1) as string;
    dir = scratch();
    expect(bash(dir, select, { STAGING_REGION: last }).bashEnv).toContain(`DEPLOY_REGION=${last}`);
    expect(bash(scratch(), select, { STAGING_REGION: "xx-nowhere-1" }).status).not.toBe(0);
  });

  it("keeps a failing cdk diff failing (cdk diff exits 0 on differences without --fail)", () => {
    const diff = runStep("diff-staging", "cdk diff");
    expect(diff).not.toMatch(/\|\|\s*(true|:)|--fail/);
    for (const exit of [0, 1]) {
      const dir = scratch();
      fakeCommand(dir, "npx", `echo "Resources [+] AWS::Lambda::Function" >&2; exit ${exit}`);
      const result = bash(dir, diff, stage);
      expect(result.status !== 0, `npx exits ${exit}`).toBe(exit !== 0);
      expect(readFileSync(join(dir, "diff", `staging-${regions[0]}.txt`), "utf8")).toContain(
        "AWS::Lambda::Function",
      );
    }
  });

  it("smoke-checks staging with a dry-run resync of the function named by the stack outputs", () => {
    const dir = scratch();
    fakeCommand(
      dir,
      "aws",
      `echo "$*" >> calls.txt
       case "$1" in
         cloudformation) echo the-function ;;
         lambda) printf '{"ok":true,"dryRun":true,"clusters":[]}' > "\${@: -1}"; echo '{"StatusCode":200}' ;;
       esac`,
    );
    expect(bash(dir, runStep("smoke-staging", "Invoke a dry-run resync"), stage).status).toBe(0);
    const calls = readFileSync(join(dir, "calls.txt"), "utf8");
    expect(calls).toContain("OutputKey=='FunctionName'");
    const invoke = calls.split("\n").find((c) => c.startsWith("lambda invoke")) as string;
    expect(invoke).toContain("--function-name the-function");
    expect(invoke).toContain('--payload {"action":"resync","dryRun":true}');
    expect(invoke).toContain("--cli-binary-format raw-in-base64-out");
    expect(Number(/--cli-read-timeout (\d+)/.exec(invoke)?.[1])).toBeGreaterThan(900);
  });

  it.each([
    ["a clean dry run", { StatusCode: 200 }, '{"ok":true,"dryRun":true,"clusters":[]}', true],
    ["a failed cluster", { StatusCode: 200 }, '{"ok":false,"dryRun":true,"clusters":[]}', false],
    ["a run that wrote", { StatusCode: 200 }, '{"ok":true,"dryRun":false,"clusters":[]}', false],
    ["a function error", { StatusCode: 200, FunctionError: "Unhandled" }, '{"errorMessage":"boom"}', false],
    ["a response that is not JSON", { StatusCode: 200 }, "Task timed out", false],
  ])("the smoke check's verdict on %s", (_, invoke, response, passes) => {
    const dir = scratch();
    mkdirSync(join(dir, "smoke"));
    writeFileSync(join(dir, "smoke", "invoke.json"), JSON.stringify(invoke));
    writeFileSync(join(dir, "smoke", "response.json"), response);
    const result = bash(
      dir,
      runStep("smoke-staging", "Check the summary (no function error, ok, dry run)"),
      stage,
    );
    expect(result.status === 0, result.out).toBe(passes);
    expect(existsSync(join(dir, "release", "staging-smoke-passed"))).toBe(passes);
  });

  it("deploys a production region only on the evidence of the staging smoke check and every earlier region", () => {
    for (const [i, region] of regions.entries()) {
      const check = runStep(`deploy-${region}`, "Check that every earlier step of this release succeeded");
      const env = { DEPLOY_REGION: region };
      const dir = scratch();
      mkdirSync(join(dir, "release"));
      expect(bash(dir, check, env).status, region).not.toBe(0);
      writeFileSync(join(dir, "release", "staging-smoke-passed"), "ok");
      for (const earlier of regions.slice(0, i)) {
        expect(bash(dir, check, env).status, `${region} before ${earlier}`).not.toBe(0);
        writeFileSync(join(dir, "release", `production-deployed-${earlier}`), "ok");
      }
      expect(bash(dir, check, env).status, region).toBe(0);
    }
    const complete = runStep("release-complete", "Check that every earlier step of this release succeeded");
    const dir = scratch();
    mkdirSync(join(dir, "release"));
    writeFileSync(join(dir, "release", "staging-smoke-passed"), "ok");
    for (const region of regions.slice(0, -1))
      writeFileSync(join(dir, "release", `production-deployed-${region}`), "ok");
    expect(bash(dir, complete).status).not.toBe(0);
    writeFileSync(join(dir, "release", `production-deployed-${regions.at(-1)}`), "ok");
    expect(bash(dir, complete).status).toBe(0);
  });

  it("builds the sidecar image from sidecar/Dockerfile at the repository root and pushes it tagged by commit", () => {
    const steps = stepsOf("sidecar-image");
    expect(steps.some((s) => s.kind === "setup_remote_docker")).toBe(true);
    expect(named("sidecar-image").args.context).toEqual(["aws-production"]);
    const build = runStep("sidecar-image", "docker build");
    expect(build).toMatch(
      /docker build --file sidecar\/Dockerfile[\s\S]*--tag "\$\{SIDECAR_IMAGE_REPOSITORY}:\$\{CIRCLE_SHA1}" \.\n/,
    );
    const push = runStep("sidecar-image", "docker push");
    expect(push).toContain("aws ecr get-login-password");
    expect(push).toMatch(/docker push "\$\{SIDECAR_IMAGE_REPOSITORY}:\$\{CIRCLE_SHA1}"/);
    expect(ancestors(approval?.name as string)).toContain("sidecar-image");
    // The context is the repository root: every COPY source of the Dockerfile is there, and BuildKit reads
    // sidecar/Dockerfile.dockerignore for it.
    const dockerfile = readFileSync(new URL("sidecar/Dockerfile", root), "utf8");
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(
      (m) => m[1]?.split(/\s+/) ?? [],
    );
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(new URL(source, root)), source).toBe(true);
    expect(existsSync(new URL("sidecar/Dockerfile.dockerignore", root))).toBe(true);
  });

  it("parses the ECR repository URI into registry, region and name", () => {
    const select = runStep("sidecar-image", "Select the sidecar's ECR repository");
    const repository = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/prometheus-ecs-discovery-sidecar";
    const result = bash(scratch(), select, { SIDECAR_IMAGE_REPOSITORY: repository });
    expect(result.bashEnv).toContain(
      "ECR_REGISTRY=123456789012.dkr.ecr.eu-west-1.amazonaws.com ECR_REGION=eu-west-1",
    );
    expect(result.bashEnv).toContain("ECR_REPOSITORY_NAME=prometheus-ecs-discovery-sidecar");
    expect(bash(scratch(), select, { SIDECAR_IMAGE_REPOSITORY: "" }).status).not.toBe(0);
  });
});
