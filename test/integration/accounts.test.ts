/**
 * Several accounts and regions (ACCOUNTS, ACCOUNT_ROLE_ARN, ACCOUNT_ROLE_EXTERNAL_ID): the real SDK
 * clients assume each member account's reader role through the stand-in's STS, read that account's ECS and
 * EC2, and publish under its account id; a member whose role cannot be assumed fails alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeEngine } from "../../lambda/compose.js";
import { loadEngineConfig } from "../../lambda/config.js";
import { DiscoveryEngine } from "../../lambda/engine/run.js";
import type { RunSummary } from "../../lambda/engine/summary.js";
import type { ExplainReport } from "../../lambda/explain/explain.js";
import { invoke } from "../../lambda/invoke.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { RecordingOutput } from "../property/recording.js";
import {
  type AccountFleet,
  generateFleet,
  readerRoleArn,
  type StandIn,
  startStandIn,
} from "../standin/index.js";
import { cli, tmp } from "../support/cli-run.js";
import { recordingLog } from "../support/engine-harness.js";

const HUB = "111111111111";
const MEMBER = "222222222222";
const DENIED = "333333333333";
const UNLISTED = "444444444444";
const EXTERNAL_ID = "org-secret-42";
const HOME = "us-east-1";
const AWAY = "eu-west-1";

let standIn: StandIn;
const fleets = new Map<string, AccountFleet>();

function key(account: string, region: string): string {
  return `${account}/${region}`;
}

beforeAll(async () => {
  standIn = await startStandIn({ account: HUB, region: HOME, seed: 11 });
  generateFleet(standIn, { clusters: 2, tasks: 24, seed: 11, clusterPrefix: "hub" });
  fleets.set(key(HUB, HOME), standIn.fleetOf(HUB, HOME) as AccountFleet);
  let seed = 20;
  for (const account of [MEMBER, DENIED, UNLISTED]) {
    for (const region of [HOME, AWAY]) {
      const fleet = standIn.addFleet({ account, region, seed: ++seed });
      generateFleet(fleet, { clusters: 2, tasks: 20, seed, clusterPrefix: `a${account.slice(0, 1)}` });
      fleets.set(key(account, region), fleet);
    }
  }
  for (const region of [AWAY]) {
    const fleet = standIn.addFleet({ account: HUB, region, seed: 40 });
    generateFleet(fleet, { clusters: 1, tasks: 10, seed: 40, clusterPrefix: "hub" });
    fleets.set(key(HUB, region), fleet);
  }
  // The member trusts the hub with the external id; the "denied" account's role wants another one.
  standIn.addRole({ arn: readerRoleArn(MEMBER), externalId: EXTERNAL_ID });
  standIn.addRole({ arn: readerRoleArn(DENIED), externalId: "someone-else" });
  standIn.addRole({ arn: readerRoleArn(UNLISTED), externalId: EXTERNAL_ID });
  Object.assign(process.env, standIn.env());
});

afterAll(async () => {
  await standIn?.close();
});

const SETTINGS = {
  ACCOUNTS: `${HUB},${MEMBER},${DENIED}`,
  ACCOUNT_ROLE_EXTERNAL_ID: EXTERNAL_ID,
};

function engine(output: RecordingOutput, region = HOME, env: Record<string, string> = SETTINGS) {
  const { log, lines } = recordingLog();
  const { deps } = composeEngine({ config: loadEngineConfig(env), log, region, output });
  return { engine: new DiscoveryEngine(deps), deps, lines };
}

const targetKeys = (output: RecordingOutput, account: string, region: string) =>
  [...output.objects.keys()].filter((k) => k.startsWith(`targets/${account}/${region}/`)).sort();

function taskArnsIn(output: RecordingOutput, objectKey: string): string[] {
  const body = output.objects.get(objectKey)?.body ?? "[]";
  return (JSON.parse(body) as { labels: Record<string, string> }[]).map((g) => g.labels.task_arn as string);
}

function clusterNames(account: string, region: string): string[] {
  const fleet = fleets.get(key(account, region)) as AccountFleet;
  return [...fleet.fleet.clusters.values()].map((c) => c.name).sort();
}

describe("several accounts, one hub per region", () => {
  it("publishes each listed account's clusters under its own account id, the own account with its own credentials", async () => {
    const output = new RecordingOutput();
    const { engine: e } = engine(output);
    const summary = await e.run({ kind: "resync", dryRun: false, force: false });
    for (const account of [HUB, MEMBER]) {
      const keys = targetKeys(output, account, HOME);
      expect(keys).toEqual(clusterNames(account, HOME).map((n) => `targets/${account}/${HOME}/${n}.json`));
      for (const k of keys) {
        const arns = taskArnsIn(output, k);
        expect(arns.length).toBeGreaterThan(0);
        for (const arn of arns) expect(arn).toContain(`:${account}:task/`);
      }
    }
    expect(targetKeys(output, UNLISTED, HOME)).toEqual([]);
    expect(summary.accounts?.map((a) => [a.account, a.status])).toEqual([
      [HUB, "listed"],
      [MEMBER, "listed"],
      [DENIED, "failed"],
    ]);
    const denied = summary.accounts?.find((a) => a.account === DENIED);
    expect(denied?.error).toMatch(
      /cannot assume arn:aws:iam::333333333333:role\/prometheus-ecs-discovery-reader/,
    );
    expect(denied?.error).toMatch(/AccessDenied/);
    expect(summary.ok).toBe(false);
    // Only the member's role was assumed, once; the hub read its own account with its own credentials.
    const assumed = standIn.sts.calls().filter((c) => c.operation === "AssumeRole");
    expect(new Set(assumed.filter((c) => c.outcome === "ok").map((c) => c.account))).toEqual(
      new Set([MEMBER]),
    );
    expect(fleets.get(key(HUB, HOME))?.counters.snapshot().totalCalls).toBeGreaterThan(0);
  });

  it("a denied account keeps its objects; the others are refreshed; clean-up never touches it", async () => {
    const output = new RecordingOutput();
    // What an earlier, working deployment published for the account that is now denied.
    const old = `targets/${DENIED}/${HOME}/gone-cluster.json`;
    output.objects.set(old, { body: "[]", etag: '"old"' });
    const other = `targets/${UNLISTED}/${HOME}/x.json`;
    output.objects.set(other, { body: "[]", etag: '"x"' });
    const { engine: e, lines } = engine(output);
    const summary = await e.run({ kind: "schedule" });
    expect(summary.reconcile).toBe(true);
    expect(output.objects.has(old)).toBe(true);
    expect(output.objects.has(other)).toBe(true);
    expect(summary.deleted).toEqual([]);
    expect(targetKeys(output, MEMBER, HOME).length).toBe(clusterNames(MEMBER, HOME).length);
    expect(
      lines.some((l) => l.message.includes("account not listed") && l.attributes?.account === DENIED),
    ).toBe(true);
  });

  it("a vanished cluster of a listed account is cleaned up, in this region only", async () => {
    const output = new RecordingOutput();
    const vanished = `targets/${MEMBER}/${HOME}/vanished.json`;
    const awayRegion = `targets/${MEMBER}/${AWAY}/vanished.json`;
    output.objects.set(vanished, { body: "[]", etag: '"v"' });
    output.objects.set(awayRegion, { body: "[]", etag: '"w"' });
    const { engine: e } = engine(output);
    const summary = await e.run({ kind: "schedule" });
    expect(output.objects.has(vanished)).toBe(false);
    expect(summary.deleted).toEqual([`memory://${vanished}`]);
    expect(output.objects.has(awayRegion)).toBe(true);
  });

  it("two regions' hubs share one output: each publishes its region, neither removes the other's", async () => {
    const output = new RecordingOutput();
    await engine(output, HOME).engine.run({ kind: "schedule" });
    await engine(output, AWAY).engine.run({ kind: "schedule" });
    await engine(output, HOME).engine.run({ kind: "schedule" });
    for (const region of [HOME, AWAY])
      for (const account of [HUB, MEMBER])
        expect(targetKeys(output, account, region)).toEqual(
          clusterNames(account, region).map((n) => `targets/${account}/${region}/${n}.json`),
        );
  });

  it("applies a member's task event with no ECS call; an unlisted account's event changes nothing and is counted", async () => {
    const output = new RecordingOutput();
    const { engine: e } = engine(output);
    await e.run({ kind: "schedule" });
    const member = fleets.get(key(MEMBER, HOME)) as AccountFleet;
    const running = [...member.fleet.tasks.values()].find((t) => t.lastStatus === "RUNNING");
    if (!running) throw new Error("the member fleet has no running task");
    const objectKey = `targets/${MEMBER}/${HOME}/${running.cluster.name}.json`;
    expect(taskArnsIn(output, objectKey)).toContain(running.arn);
    member.fleet.stopTask(running.arn);
    const before = member.counters.snapshot().totalCalls;
    const summary: RunSummary = await e.run(eventTrigger(member.fleet.taskStateChangeEvent(running.arn)));
    expect(summary.events.applied).toBe(1);
    expect(member.counters.snapshot().totalCalls - before).toBe(0);
    expect(taskArnsIn(output, objectKey)).not.toContain(running.arn);

    const unlisted = fleets.get(key(UNLISTED, HOME)) as AccountFleet;
    const stranger = [...unlisted.fleet.tasks.values()][0];
    if (!stranger) throw new Error("the unlisted fleet has no task");
    const writes = output.writes.length;
    const ignored = await e.run(eventTrigger(unlisted.fleet.taskStateChangeEvent(stranger.arn)));
    expect(ignored.unlistedAccountEvents).toBe(1);
    expect(ignored.events.applied).toBe(0);
    expect(output.writes.length).toBe(writes);
    expect(ignored.skipped).toMatch(/account 444444444444, which is not in ACCOUNTS/);
  });

  it("expiring credentials are assumed again before they run out, and the reads go on", async () => {
    const output = new RecordingOutput();
    const { engine: e } = engine(output, HOME, { ...SETTINGS, ACCOUNTS: MEMBER });
    standIn.sts.lifetimeSeconds = 2;
    try {
      const count = () =>
        standIn.sts
          .calls()
          .filter((c) => c.operation === "AssumeRole" && c.account === MEMBER && c.outcome === "ok").length;
      const first = count();
      expect((await e.run({ kind: "schedule" })).ok).toBe(true);
      expect(count()).toBe(first + 1);
      await new Promise((resolve) => setTimeout(resolve, 2_200));
      const summary = await e.run({ kind: "schedule" });
      expect(summary.ok).toBe(true);
      expect(count()).toBe(first + 2);
    } finally {
      standIn.sts.lifetimeSeconds = undefined;
    }
  });
});

describe("explain across accounts", () => {
  const firstRunning = (account: string) => {
    const found = [...(fleets.get(key(account, HOME)) as AccountFleet).fleet.tasks.values()].find(
      (t) => t.lastStatus === "RUNNING",
    );
    if (!found) throw new Error(`no running task in ${account}`);
    return found;
  };

  it("reads a member account through its role: by a task ARN, or by account and family", async () => {
    const { deps } = engine(new RecordingOutput());
    const task = firstRunning(MEMBER);
    const byArn = (await invoke({ action: "explain", task: task.arn }, deps)).result as ExplainReport;
    expect(byArn.containers.length).toBeGreaterThan(0);
    for (const c of byArn.containers) expect(c.taskArn).toBe(task.arn);
    expect(byArn.containers.some((c) => c.reason === "cluster-not-discovered")).toBe(false);
    const family = task.taskDefinition.family;
    const byFamily = (await invoke({ action: "explain", account: MEMBER, family }, deps))
      .result as ExplainReport;
    expect(byFamily.containers.length).toBeGreaterThan(0);
    for (const c of byFamily.containers) expect(c.clusterArn).toContain(`:${MEMBER}:cluster/`);
  });

  it("a cluster of an account outside ACCOUNTS is cluster-not-discovered, with what it would be", async () => {
    const { deps } = engine(new RecordingOutput());
    const task = firstRunning(UNLISTED);
    const report = (await invoke({ action: "explain", task: task.arn }, deps)).result as ExplainReport;
    expect(report.containers.length).toBeGreaterThan(0);
    for (const c of report.containers) {
      expect(c.reason).toBe("cluster-not-discovered");
      expect(c.detail).toMatch(/account 444444444444 is not in ACCOUNTS/);
      expect(c.facts.wouldBe).toBeDefined();
    }
  });
});

describe("the command line, with the contract's variables", () => {
  it("sync writes every account's files under its own account id, and exits 2 for the denied account", async () => {
    const dir = await tmp();
    const run = await cli(["sync", "--out-dir", dir], { ...standIn.env(), ...SETTINGS });
    expect(run.code, run.stderr).toBe(2);
    const summary = JSON.parse(run.stdout) as RunSummary;
    expect(summary.accounts?.find((a) => a.account === DENIED)?.status).toBe("failed");
    const { readdir } = await import("node:fs/promises");
    const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
    const expected = [HUB, MEMBER].flatMap((account) =>
      clusterNames(account, HOME).map((n) => `${account}_${HOME}_${n}.json`),
    );
    expect(files).toEqual(expected.sort());
  });
});

function eventTrigger(event: unknown) {
  const trigger = parseTrigger(event);
  if (trigger.kind !== "task-event") throw new Error(`not a task event: ${trigger.kind}`);
  return trigger;
}
