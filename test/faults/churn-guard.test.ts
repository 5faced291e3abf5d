/**
 * The churn guard end to end: the engine with the real SDK against the stand-in, state and targets in a
 * directory. A reconcile that would drop more than CHURN_GUARD_PERCENT of a cluster's tasks with no stop
 * event is held back once; what the unit tests (a fake ECS) do not show is covered here: the hold
 * surviving a cold start, a short listing that recovers, events arriving while a removal is held,
 * the threshold itself, and the two documented ways past it.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EcsReadApi } from "../../lambda/aws/ecs-read-api.js";
import { DiscoveryEngine } from "../../lambda/engine/run.js";
import { DirectoryTargetOutput } from "../../lambda/publish/directory-output.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { type StandIn, startStandIn } from "../standin/index.js";
import { engineAgainst, type LogLine } from "../support/engine-harness.js";

let standIn: StandIn;
let dir: string;
let web: string[];
let api: string;

beforeEach(async () => {
  standIn = await startStandIn();
  dir = await mkdtemp(join(tmpdir(), "churn-guard-"));
  const f = standIn.fleet;
  api = f.registerTaskDefinition({
    family: "api",
    networkMode: "awsvpc",
    requiresCompatibilities: ["FARGATE"],
    containers: [
      {
        name: "api",
        image: "api:1",
        dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100" },
        portMappings: [{ containerPort: 9100 }],
      },
    ],
  });
  for (const name of ["web", "steady"]) f.addCluster(name);
  web = Array.from({ length: 10 }, () =>
    f.runTask("web", { taskDefinition: api, launchType: "FARGATE", serviceName: "web" }),
  );
  for (let i = 0; i < 4; i++) f.runTask("steady", { taskDefinition: api, launchType: "FARGATE" });
});
afterEach(async () => {
  await standIn.close();
});

const resync = (extra: Record<string, unknown> = {}) => parseTrigger({ action: "resync", ...extra });
const fileOf = (cluster: string) => join(dir, `${standIn.account}_${standIn.region}_${cluster}.json`);
const targets = async (cluster: string) =>
  (JSON.parse(await readFile(fileOf(cluster), "utf-8")) as { targets: string[] }[]).flatMap((g) => g.targets);
const raw = (cluster: string) => readFile(fileOf(cluster), "utf-8");
const output = () => new DirectoryTargetOutput(dir);
/** A new engine each time, as a new Lambda instance would be: nothing carried over but the stored state. */
const engine = (env: Record<string, string> = {}) => engineAgainst(standIn, output(), { env });
const guardLines = (lines: LogLine[]) => lines.filter((l) => l.message.startsWith("churn guard"));

/** Tasks gone from ECS with no stop event reaching the engine (events lost, or a rule disabled). */
function stopSilently(count: number): void {
  for (const arn of web.slice(0, count)) standIn.fleet.stopTask(arn);
}

describe("churn guard through the engine and the stand-in", () => {
  it("holds back once, logs and counts it; a later run, even after a cold start, confirms", async () => {
    await engine().engine.run(resync());
    const before = await raw("web");
    stopSilently(6);

    const first = engine();
    const held = await first.engine.run(resync());
    expect(held.ok).toBe(true);
    expect(held.heldBack).toBe(1);
    expect(held.clusters.map((c) => [c.cluster, c.status])).toEqual([
      ["steady", "unchanged"],
      ["web", "held-back"],
    ]);
    expect(await raw("web"), "Prometheus still sees every target").toBe(before);
    // The summary says why, so a resync answer alone tells the operator what is going on.
    expect(held.clusters.find((c) => c.cluster === "web")?.reason).toMatch(
      /^churn guard: would remove 6 of 10 tasks \(60 %\) without stop events/,
    );
    expect(guardLines(first.lines)).toEqual([
      {
        level: "warn",
        message: "churn guard: reconcile held back",
        attributes: {
          cluster: "web",
          reason: expect.stringMatching(/would remove 6 of 10 tasks \(60 %\) without stop events/),
        },
      },
    ]);

    const second = engine();
    const confirmed = await second.engine.run(resync());
    expect(confirmed.heldBack).toBe(0);
    expect(confirmed.clusters.find((c) => c.cluster === "web")).toMatchObject({
      status: "written",
      targets: 4,
    });
    expect(await targets("web")).toHaveLength(4);
    expect(guardLines(second.lines)).toEqual([
      {
        level: "info",
        message: "churn guard: removal confirmed",
        attributes: { cluster: "web", reason: "confirmed by a second reconcile" },
      },
    ]);
  });

  it("a listing that answers short once never reaches Prometheus, and leaves no stale hold behind", async () => {
    const { engine: healthy, deps } = engine();
    await healthy.run(resync());
    const before = await raw("web");
    let shortOnce = true;
    const shortApi: EcsReadApi = {
      listClusterArns: () => deps.api.listClusterArns(),
      describeClusters: (refs) => deps.api.describeClusters(refs),
      listRunningTaskArns: async (cluster) => {
        const arns = await deps.api.listRunningTaskArns(cluster);
        if (!cluster.endsWith("/web") || !shortOnce) return arns;
        shortOnce = false;
        return arns.slice(0, 3);
      },
      describeTasks: (c, arns, tags) => deps.api.describeTasks(c, arns, tags),
      describeTaskDefinition: (arn) => deps.api.describeTaskDefinition(arn),
      describeContainerInstances: (c, arns) => deps.api.describeContainerInstances(c, arns),
      describeInstances: (ids) => deps.api.describeInstances(ids),
      describeServices: (c, names) => deps.api.describeServices(c, names),
      describeNetworkInterfaces: (ids) => deps.api.describeNetworkInterfaces(ids),
    };
    const flaky = new DiscoveryEngine({ ...deps, api: shortApi });
    expect((await flaky.run(resync())).heldBack).toBe(1);
    expect(await raw("web")).toBe(before);

    const recovered = await engine().engine.run(resync());
    expect(recovered.heldBack).toBe(0);
    expect(recovered.clusters.find((c) => c.cluster === "web")?.status).toBe("unchanged");
    expect(await raw("web")).toBe(before);
    expect(
      await readFile(join(dir, ".state", `${standIn.account}_${standIn.region}_web.json`), "utf-8"),
    ).not.toContain("heldBack");

    // The earlier hold must not count as the confirmation of a new, real drop.
    stopSilently(7);
    expect((await engine().engine.run(resync())).heldBack).toBe(1);
    expect(await targets("web")).toHaveLength(10);
    expect((await engine().engine.run(resync())).heldBack).toBe(0);
    expect(await targets("web")).toHaveLength(3);
  });

  it("applies task events while a removal is held back; the confirming reconcile keeps them", async () => {
    await engine().engine.run(resync());
    stopSilently(8);
    expect((await engine().engine.run(resync())).heldBack).toBe(1);
    const started = standIn.fleet.runTask("web", {
      taskDefinition: api,
      launchType: "FARGATE",
      serviceName: "web",
    });
    const onEvent = await engine().engine.run(parseTrigger(standIn.fleet.taskStateChangeEvent(started)));
    expect(onEvent.events.applied).toBe(1);
    expect(await targets("web"), "the new task is published at once, the held removal is not").toHaveLength(
      11,
    );
    const confirmed = await engine().engine.run(resync());
    expect(confirmed.heldBack).toBe(0);
    expect(await targets("web")).toHaveLength(3);
    const ip = standIn.fleet.findTask(started)?.eni?.privateIp;
    expect(await targets("web")).toContain(`${ip}:9100`);
  });

  it('{"action":"resync","force":true} publishes the removal at once', async () => {
    await engine().engine.run(resync());
    stopSilently(9);
    const forced = engine();
    const summary = await forced.engine.run(resync({ force: true }));
    expect(summary.heldBack).toBe(0);
    expect(summary.clusters.find((c) => c.cluster === "web")?.status).toBe("written");
    expect(await targets("web")).toHaveLength(1);
    expect(guardLines(forced.lines)).toEqual([]);
  });

  it("a forced resync of other clusters does not release a hold on this one", async () => {
    await engine().engine.run(resync());
    stopSilently(9);
    const other = await engine().engine.run(resync({ clusters: ["steady"], force: true }));
    expect(other.clusters.map((c) => c.cluster)).toEqual(["steady"]);
    expect((await engine().engine.run(resync())).heldBack).toBe(1);
    expect(await targets("web")).toHaveLength(10);
  });

  it("CHURN_GUARD_PERCENT=100 turns the guard off", async () => {
    await engine({ CHURN_GUARD_PERCENT: "100" }).engine.run(resync());
    stopSilently(10);
    const off = engine({ CHURN_GUARD_PERCENT: "100" });
    const summary = await off.engine.run(resync());
    expect(summary.heldBack).toBe(0);
    expect(await targets("web")).toEqual([]);
    expect(guardLines(off.lines)).toEqual([]);
  });

  it.each([
    { percent: undefined, removed: 5, held: false },
    { percent: undefined, removed: 6, held: true },
    { percent: "30", removed: 3, held: false },
    { percent: "30", removed: 4, held: true },
  ])(
    "CHURN_GUARD_PERCENT=$percent: $removed of 10 removed → held back: $held",
    async ({ percent, removed, held }) => {
      const env: Record<string, string> = percent ? { CHURN_GUARD_PERCENT: percent } : {};
      await engine(env).engine.run(resync());
      stopSilently(removed);
      const summary = await engine(env).engine.run(resync());
      expect(summary.heldBack).toBe(held ? 1 : 0);
      expect(await targets("web")).toHaveLength(held ? 10 : 10 - removed);
    },
  );

  it("removals announced by stop events are never held back, however many", async () => {
    await engine().engine.run(resync());
    stopSilently(9);
    for (const arn of web.slice(0, 9)) {
      await engine().engine.run(parseTrigger(standIn.fleet.taskStateChangeEvent(arn)));
    }
    expect(await targets("web")).toHaveLength(1);
    const summary = await engine().engine.run(resync());
    expect(summary.heldBack).toBe(0);
    expect(summary.clusters.find((c) => c.cluster === "web")?.status).toBe("unchanged");
  });
});
