/**
 * "Nothing lost when AWS misbehaves": every fault the design promises to survive, on the ECS/EC2 stand-in
 * and S3 (startS3: the Node.js stand-in, or moto; behind a fault proxy, so the real SDK paths run), each
 * checked the same way — every
 * object ever stored is complete and is either the last good one or the correct new one, every healthy
 * target survives, and once the fault is gone the next run repairs everything. The scenario → outcome
 * matrix is printed at the end.
 */
import { chmod, mkdtemp, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { RunSummary } from "../../lambda/engine/summary.js";
import type { ObjectRef, TargetOutput } from "../../lambda/publish/target-output.js";
import { parseTrigger, type Trigger } from "../../lambda/triggers/parse-trigger.js";
import { createS3Client } from "../../sidecar/app.js";
import { FsLocalDir } from "../../sidecar/localdir.js";
import { memoryLogger } from "../../sidecar/log.js";
import { SidecarMetrics } from "../../sidecar/metrics.js";
import { S3ObjectStore } from "../../sidecar/store.js";
import { Syncer, syncId } from "../../sidecar/sync.js";
import type { FaultKind, FaultRule } from "../standin/index.js";
import type { LogLine } from "../support/engine-harness.js";
import { type S3Server, startS3 } from "../support/s3.js";
import { type BaseFleet, buildFleet, expectNothingLost, expectRepaired, grow } from "./fleet.js";
import { fsFaults, resetFsFaults } from "./fs-faults.js";
import { Matrix } from "./matrix.js";
import type { RecordedPut, S3FaultRule } from "./s3-proxy.js";
import {
  BUCKET,
  buildEngine,
  CLUSTERS,
  type EngineOptions,
  invalidBodies,
  STATE,
  startWorld,
  stateKey,
  storedObjects,
  TARGETS,
  targetsKey,
  targetsOf,
  truth,
  type World,
} from "./world.js";

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const { faultyFs } = await import("./fs-faults.js");
  return faultyFs(real);
});

const matrix = new Matrix("Fault matrix");
let s3: S3Server;
let world: World | undefined;

beforeAll(async () => {
  s3 = await startS3();
});
afterEach(async () => {
  resetFsFaults();
  await world?.close();
  world = undefined;
});
afterAll(async () => {
  matrix.print();
  await s3?.stop();
});

const resync = (): Trigger => parseTrigger({ action: "resync" });

function current(): World {
  if (!world) throw new Error("no world");
  return world;
}

/** A fresh deployment with the base fleet, published once by a healthy reconcile. */
async function setUp(env: Record<string, string> = {}): Promise<BaseFleet> {
  world = await startWorld(s3);
  const base = buildFleet(world);
  const first = await buildEngine(world, { env }).engine.run(resync());
  expect(first.ok, JSON.stringify(first.clusters)).toBe(true);
  expect(first.objects.written).toBe(CLUSTERS.length);
  return base;
}

interface FaultyRun {
  summary?: RunSummary;
  error?: Error;
  lines: LogLine[];
  baseline: Map<string, string>;
  after: Map<string, string>;
  expected: Map<string, string>;
  puts: RecordedPut[];
}

/** Runs one trigger under the injected faults, then heals everything and works out the correct result. */
async function underFault(options: {
  env?: Record<string, string>;
  inject?: () => void | Promise<void>;
  heal?: () => void;
  engine?: EngineOptions;
  trigger?: Trigger;
}): Promise<FaultyRun> {
  const w = current();
  const baseline = await storedObjects(w);
  const mark = w.proxy.puts.length;
  await options.inject?.();
  const built = buildEngine(w, { ...(options.env ? { env: options.env } : {}), ...options.engine });
  let summary: RunSummary | undefined;
  let error: Error | undefined;
  try {
    summary = await built.engine.run(options.trigger ?? resync());
  } catch (e) {
    error = e as Error;
  }
  const puts = w.proxy.puts.slice(mark);
  const after = await storedObjects(w);
  w.standIn.faults.clear();
  w.proxy.clear();
  options.heal?.();
  const expected = await truth(w, options.env);
  return {
    ...(summary ? { summary } : {}),
    ...(error ? { error } : {}),
    lines: built.lines,
    baseline,
    after,
    expected,
    puts,
  };
}

/** The fault is gone: one healthy reconcile, and every object is what it should be. */
async function repair(env: Record<string, string> = {}): Promise<void> {
  const w = current();
  const summary = await buildEngine(w, { env }).engine.run(resync());
  expect(summary.ok, JSON.stringify(summary.clusters)).toBe(true);
  await expectRepaired(w, await truth(w, env));
}

function statusOf(summary: RunSummary | undefined, cluster: string) {
  return summary?.clusters.find((c) => c.cluster === cluster);
}

describe("ECS and EC2 calls failing beyond retries", () => {
  const operations: {
    op: string;
    cluster?: string;
    env?: Record<string, string>;
    listing?: boolean;
    /** The clusters whose refresh needs the failing call (default alpha, where everything is new). */
    failing?: string[];
  }[] = [
    { op: "ListClusters", listing: true },
    { op: "DescribeClusters", listing: true, env: { CLUSTERS: CLUSTERS.join(",") } },
    { op: "ListTasks", cluster: "alpha" },
    { op: "DescribeTasks", cluster: "alpha" },
    { op: "DescribeTaskDefinition" },
    { op: "DescribeContainerInstances", cluster: "alpha" },
    { op: "DescribeInstances" },
    // Both alpha and bravo gain a Fargate task, whose ENI's public IP only this call tells.
    { op: "DescribeNetworkInterfaces", failing: ["alpha", "bravo"] },
    { op: "DescribeServices", cluster: "alpha", env: { INCLUDE: "SERVICES" } },
  ];
  const kinds: { kind: FaultKind; label: string; error: RegExp }[] = [
    { kind: "throttle", label: "throttled beyond retries", error: /Throttling|RequestLimitExceeded/ },
    { kind: "5xx", label: "5xx", error: /ServerException|Unavailable|InternalError/ },
    { kind: "timeout", label: "timeout", error: /TimeoutError|timed? ?out/i },
  ];
  const cases = kinds.flatMap((k) => operations.map((o) => ({ ...k, ...o })));

  it.each(cases)(
    "$op $label",
    async ({ op, cluster, env, listing, failing, kind, label, error: errorPattern }) => {
      await matrix.scenario(
        `${op} ${label}`,
        `stand-in: ${kind} on every ${op}${cluster ? ` of ${cluster}` : ""}`,
        async () => {
          const base = await setUp(env);
          const isEc2 = op === "DescribeInstances" || op === "DescribeNetworkInterfaces";
          const rule: FaultRule = {
            operation: op,
            kind,
            ...(cluster ? { cluster } : {}),
            ...(kind === "5xx" ? { status: isEc2 ? 503 : 500 } : {}),
          };
          const run = await underFault({
            ...(env ? { env } : {}),
            inject: () => {
              grow(current(), base);
              current().standIn.faults.inject(rule);
            },
          });
          const kept = listing ? [...CLUSTERS] : (failing ?? ["alpha"]);
          const outcome = expectNothingLost({ ...run, kept, world: current() });
          if (listing) {
            expect(run.error?.message).toMatch(/could not list clusters/);
            expect(run.error?.message).toMatch(errorPattern);
            expect(run.puts, "nothing is written when the listing fails").toEqual([]);
          } else {
            expect(run.summary?.ok).toBe(false);
            for (const name of kept) {
              expect(statusOf(run.summary, name)).toMatchObject({ status: "failed" });
              expect(statusOf(run.summary, name)?.error).toMatch(errorPattern);
            }
            expect(run.summary?.objects.failed).toBe(kept.length);
            const attempts = { ...run.summary?.throttles, ...run.summary?.apiErrors }[op] ?? 0;
            expect(attempts, "every failed attempt is counted").toBeGreaterThanOrEqual(1);
            expect(
              run.lines.some((l) => l.level === "error" && l.attributes?.cluster === "alpha"),
              "the failure is logged with its cluster",
            ).toBe(true);
          }
          await repair(env);
          return `${listing ? "run refused, nothing written" : outcome}; repaired next run`;
        },
      );
    },
  );
});

describe("ECS data and API faults for one cluster", () => {
  it("AccessDeniedException for one cluster of several", async () => {
    await matrix.scenario(
      "AccessDenied for one cluster of three",
      "stand-in: accessDenied on bravo",
      async () => {
        const base = await setUp();
        const run = await underFault({
          inject: () => {
            grow(current(), base);
            current().standIn.faults.inject({ cluster: "bravo", kind: "accessDenied" });
          },
        });
        expect(statusOf(run.summary, "bravo")?.error).toMatch(/AccessDeniedException/);
        const outcome = expectNothingLost({ ...run, kept: ["bravo"], world: current() });
        expect(statusOf(run.summary, "alpha")?.status).toBe("written");
        await repair();
        return `${outcome}; repaired next run`;
      },
    );
  });

  it("a cluster deleted while the run lists it", async () => {
    await matrix.scenario("cluster deleted mid-run", "charlie deleted after ListClusters", async () => {
      const base = await setUp();
      const run = await underFault({
        inject: () => {
          grow(current(), base);
        },
        engine: {
          wrapApi: (api) => ({
            ...bindAll(api),
            listClusterArns: async () => {
              const arns = await api.listClusterArns();
              current().standIn.fleet.deleteCluster("charlie");
              return arns;
            },
          }),
        },
      });
      expect(statusOf(run.summary, "charlie")?.status).toBe("gone");
      const outcome = expectNothingLost({ ...run, kept: ["charlie"], world: current() });
      // Only a complete listing that no longer has the cluster may take its object away.
      await repair();
      const stored = await storedObjects(current());
      expect(stored.has(targetsKey(current(), "charlie"))).toBe(false);
      expect((await storedObjects(current(), STATE)).has(stateKey(current(), "charlie"))).toBe(false);
      return `${outcome} (status gone); next complete listing removed its objects`;
    });
  });

  it("a task definition that cannot be described", async () => {
    await matrix.scenario(
      "task definition cannot be described",
      "DescribeTaskDefinition → ClientException for one revision",
      async () => {
        const base = await setUp();
        const f = () => current().standIn.fleet;
        let hidden: (() => void) | undefined;
        let ghostArn = "";
        let withoutGhost = new Map<string, string>();
        const run = await underFault({
          inject: async () => {
            grow(current(), base);
            const ghost = f().registerTaskDefinition({
              family: "ghost",
              networkMode: "awsvpc",
              requiresCompatibilities: ["FARGATE"],
              containers: [{ name: "g", image: "g:1", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9000" } }],
            });
            f().runTask("alpha", { taskDefinition: ghost, launchType: "FARGATE" });
            // The stand-in answers ClientException for a definition it does not know, as AWS does.
            const revisions = f().families.get("ghost") ?? [];
            const record = f().taskDefinitions.get(ghost);
            f().families.delete("ghost");
            f().taskDefinitions.delete(ghost);
            hidden = () => {
              f().families.set("ghost", revisions);
              if (record) f().taskDefinitions.set(ghost, record);
            };
            ghostArn = ghost;
            // What a healthy reconcile publishes while ECS refuses the definition: everything but its task.
            withoutGhost = await truth(current());
          },
          heal: () => hidden?.(),
        });
        // Retrying cannot make ECS describe it, so the cluster is not frozen: only that task waits.
        expect(statusOf(run.summary, "alpha")?.status).toBe("written");
        const warning = run.lines.find((l) => l.message.startsWith("task definition cannot be described"));
        expect(warning?.attributes).toMatchObject({ cluster: "alpha", taskDefinition: ghostArn, tasks: 1 });
        expect(String(warning?.attributes?.error)).toMatch(/ClientException/);
        expect(withoutGhost).not.toEqual(run.expected);
        const outcome = expectNothingLost({ ...run, expected: withoutGhost, kept: [], world: current() });
        await repair();
        return `${outcome} without the one task whose definition ECS refused (warned); its target came once describable`;
      },
    );
  });

  it("a container instance whose EC2 instance is gone", async () => {
    await matrix.scenario(
      "EC2 instance of a container instance gone",
      "terminated, absent from DescribeInstances",
      async () => {
        const base = await setUp();
        let doomedTask = "";
        const run = await underFault({
          inject: () => {
            grow(current(), base);
            const f = current().standIn.fleet;
            const doomed = f.addHost("alpha");
            doomedTask = f.runTask("alpha", { taskDefinition: base.web, host: doomed.containerInstanceArn });
            f.terminateInstance(doomed.ec2InstanceId);
          },
        });
        expect(run.summary?.ok).toBe(true);
        const outcome = expectNothingLost({ ...run, kept: [], world: current() });
        expect(run.after.get(targetsKey(current(), "alpha"))).not.toContain(doomedTask);
        const warning = run.lines.find((l) => l.level === "warn" && l.attributes?.task === doomedTask);
        expect(warning?.message).toMatch(/EC2 instance .* not found/);
        await repair();
        return `${outcome}; its task skipped with a warning`;
      },
    );
  });

  it("an ECS Anywhere host", async () => {
    await matrix.scenario("ECS Anywhere host", "external container instance (mi-…), no EC2", async () => {
      const base = await setUp();
      let externalTask = "";
      const run = await underFault({
        inject: () => {
          grow(current(), base);
          const f = current().standIn.fleet;
          const host = f.addHost("alpha", { external: true });
          externalTask = f.runTask("alpha", {
            taskDefinition: base.web,
            host: host.containerInstanceArn,
            launchType: "EXTERNAL",
          });
        },
      });
      expect(run.summary?.ok).toBe(true);
      const outcome = expectNothingLost({ ...run, kept: [], world: current() });
      const warning = run.lines.find((l) => l.level === "warn" && l.attributes?.task === externalTask);
      expect(warning?.message).toMatch(/ECS Anywhere/);
      return `${outcome}; its task skipped with a warning`;
    });
  });
});

describe("S3 misbehaving under the engine", () => {
  const s3Cases: {
    name: string;
    rules: (w: World) => S3FaultRule[];
    kept: string[];
    ok: boolean;
  }[] = [
    {
      name: "state PUT fails (500, beyond retries)",
      rules: () => [{ method: "PUT", keyPrefix: STATE, action: { kind: "status", status: 500 } }],
      kept: ["alpha", "bravo"],
      ok: false,
    },
    {
      name: "targets PUT fails (503 SlowDown, 500): state written, targets not",
      rules: (w) => [
        { method: "PUT", keyPrefix: targetsKey(w, "alpha"), action: { kind: "status", status: 503 } },
        { method: "PUT", keyPrefix: targetsKey(w, "bravo"), action: { kind: "status", status: 500 } },
      ],
      kept: ["alpha", "bravo"],
      ok: false,
    },
    {
      name: "PUT connection cut before S3 saw it (once per object)",
      rules: (w) =>
        ["alpha", "bravo"].flatMap((c) =>
          [stateKey(w, c), targetsKey(w, c)].map(
            (keyPrefix): S3FaultRule => ({ method: "PUT", keyPrefix, action: { kind: "reset" }, times: 1 }),
          ),
        ),
      kept: [],
      ok: true,
    },
    {
      name: "PUT applied but the answer lost",
      rules: (w) => [
        { method: "PUT", keyPrefix: stateKey(w, "alpha"), action: { kind: "applyThenReset" }, times: 1 },
        { method: "PUT", keyPrefix: targetsKey(w, "alpha"), action: { kind: "applyThenReset" }, times: 1 },
      ],
      kept: [],
      ok: true,
    },
    {
      name: "state GET fails (500, beyond retries)",
      rules: (w) => [
        { method: "GET", keyPrefix: stateKey(w, "alpha"), action: { kind: "status", status: 500 } },
      ],
      kept: ["alpha"],
      ok: false,
    },
    {
      name: "state GET never answered",
      rules: (w) => [{ method: "GET", keyPrefix: stateKey(w, "alpha"), action: { kind: "hang" } }],
      kept: ["alpha"],
      ok: false,
    },
    {
      name: "state GET garbled in transit",
      rules: (w) => [{ method: "GET", keyPrefix: stateKey(w, "alpha"), action: { kind: "corruptBody" } }],
      kept: ["alpha"],
      ok: false,
    },
    {
      name: "targets GET cut mid-body",
      rules: (w) => [{ method: "GET", keyPrefix: targetsKey(w, "bravo"), action: { kind: "truncateBody" } }],
      kept: ["bravo"],
      ok: false,
    },
  ];

  it.each(s3Cases)("$name", async ({ name, rules, kept, ok }) => {
    await matrix.scenario(`S3: ${name}`, `fault proxy in front of S3 (${s3.kind})`, async () => {
      const base = await setUp();
      const run = await underFault({
        inject: () => {
          grow(current(), base);
          for (const rule of rules(current())) current().proxy.inject(rule);
        },
      });
      expect(current().proxy.fired(), "the fault was hit").toBeGreaterThan(0);
      expect(run.summary?.ok, JSON.stringify(run.summary?.clusters)).toBe(ok);
      for (const cluster of kept) expect(statusOf(run.summary, cluster)?.status).toBe("failed");
      const outcome = expectNothingLost({ ...run, kept, world: current() });
      await repair();
      return `${outcome}; repaired next run`;
    });
  });

  it("a stored state object that is garbage", async () => {
    await matrix.scenario(
      "S3: stored state object truncated",
      "half a state object in the bucket",
      async () => {
        const base = await setUp();
        const run = await underFault({
          inject: async () => {
            const w = current();
            grow(w, base);
            const state = (await storedObjects(w, STATE)).get(stateKey(w, "alpha")) ?? "";
            await w.admin.send(
              new PutObjectCommand({
                Bucket: BUCKET,
                Key: stateKey(w, "alpha"),
                Body: state.slice(0, state.length / 2),
              }),
            );
          },
        });
        expect(run.summary?.ok).toBe(true);
        expect(run.lines.some((l) => /stored state is unreadable/.test(l.message))).toBe(true);
        const outcome = expectNothingLost({ ...run, kept: [], world: current() });
        return `${outcome}; state rebuilt from a full listing`;
      },
    );
  });
});

/** Binds an object's methods so a spread copy can override one of them. */
function bindAll<T extends object>(api: T): T {
  const out: Record<string, unknown> = {};
  let proto: object | null = api;
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (api as Record<string, unknown>)[key];
      if (key !== "constructor" && typeof value === "function" && !(key in out)) out[key] = value.bind(api);
    }
    proto = Object.getPrototypeOf(proto);
  }
  return out as T;
}

describe("the Lambda killed, and runs at once", () => {
  it("a run killed mid-publish: state written, targets not", async () => {
    await matrix.scenario("Lambda killed mid-publish", "process gone after the first state PUT", async () => {
      const base = await setUp();
      const w = current();
      const baseline = await storedObjects(w);
      const mark = w.proxy.puts.length;
      grow(w, base);
      let victim: string | undefined;
      let killed!: () => void;
      const dead = new Promise<void>((resolve) => {
        killed = resolve;
      });
      const never = new Promise<never>(() => {});
      const { engine } = buildEngine(w, {
        wrapOutput: (inner): TargetOutput => {
          let gone = false;
          const gate = <T>(call: () => Promise<T>): Promise<T> => (gone ? never : call());
          return {
            location: inner.location,
            locationOf: (ref, kind) => inner.locationOf(ref, kind),
            read: (ref, kind) => gate(() => inner.read(ref, kind)),
            remove: (ref) => gate(() => inner.remove(ref)),
            listPublishedClusters: (a, r) => gate(() => inner.listPublishedClusters(a, r)),
            write: (ref: ObjectRef, body, expected, kind) =>
              gate(async () => {
                const etag = await inner.write(ref, body, expected, kind);
                if (kind === "state" && !gone) {
                  gone = true;
                  victim = ref.name;
                  killed();
                }
                return etag;
              }),
          };
        },
      });
      void engine.run(resync()).catch(() => {});
      await dead;
      const atDeath = await storedObjects(w);
      const expected = await truth(w);
      if (!victim) throw new Error("no state was written");
      expectNothingLost({
        baseline,
        after: atDeath,
        expected,
        puts: w.proxy.puts.slice(mark),
        kept: [victim],
        // Runs for the other clusters died wherever they were: either object is fine, nothing else.
        undecided: CLUSTERS.filter((c) => c !== victim),
        world: w,
      });
      // A fresh instance handles a duplicate event of that cluster: nothing new in it, yet the targets
      // are derived from the state the killed run committed, so they are published now.
      const victimTask = base.tasks[victim]?.[1] as string;
      const next = await buildEngine(w).engine.run(
        parseTrigger(w.standIn.fleet.taskStateChangeEvent(victimTask)),
      );
      expect(next.ok).toBe(true);
      expect(next.events.stale).toBe(1);
      expect((await storedObjects(w)).get(targetsKey(w, victim))).toBe(expected.get(targetsKey(w, victim)));
      await repair();
      return `${victim}: state committed, targets old (never partial); a duplicate event republished them; reconcile repaired all`;
    });
  });

  it("concurrent event runs on one cluster lose no update", async () => {
    await matrix.scenario(
      "two (four) runs at once: events",
      "4 Lambda instances, same cluster, same moment",
      async () => {
        const base = await setUp();
        const w = current();
        const baseline = await storedObjects(w);
        const mark = w.proxy.puts.length;
        const f = w.standIn.fleet;
        const fresh = [0, 1, 2, 3].map(() =>
          f.runTask("alpha", { taskDefinition: base.api, launchType: "FARGATE", serviceName: "api" }),
        );
        // Every run reads the same state before any of them writes: a guaranteed race.
        const barrier = gate(fresh.length);
        const engines = fresh.map(() =>
          buildEngine(w, {
            maxAttempts: 3,
            wrapOutput: (inner) => ({
              ...bindAll(inner),
              location: inner.location,
              write: barrier.wrap(inner),
            }),
          }),
        );
        const results = await Promise.all(
          fresh.map(
            (arn, i) =>
              engines[i]?.engine.run(parseTrigger(f.taskStateChangeEvent(arn))) as Promise<RunSummary>,
          ),
        );
        const conflicts = engines
          .flatMap((e) => e.lines)
          .filter((l) => /changed since they were read/.test(l.message)).length;
        expect(conflicts, "the runs really raced").toBeGreaterThanOrEqual(fresh.length - 1);
        const published = (await storedObjects(w)).get(targetsKey(w, "alpha")) ?? "";
        // A run that reports success must have its task published: that is "no lost update".
        const failedRuns: number[] = [];
        results.forEach((summary, i) => {
          if (summary.ok) expect(published, `run ${i} succeeded, so its task is there`).toContain(fresh[i]);
          else failedRuns.push(i);
        });
        // A failed run hands its message back to SQS; the redelivery must land.
        for (const i of failedRuns) {
          const again = await buildEngine(w).engine.run(
            parseTrigger(f.taskStateChangeEvent(fresh[i] as string)),
          );
          expect(again.ok).toBe(true);
        }
        const final = (await storedObjects(w)).get(targetsKey(w, "alpha")) ?? "";
        for (const arn of fresh) expect(final).toContain(arn);
        const puts = w.proxy.puts.slice(mark).filter((p) => p.key.startsWith(TARGETS));
        expect(invalidBodies(puts.map((p) => [p.key, p.body]))).toEqual([]);
        for (const put of puts) {
          const lost = targetsOf(baseline.get(put.key)).filter((t) => !targetsOf(put.body).includes(t));
          expect(lost, "no PUT dropped a target").toEqual([]);
        }
        await repair();
        return `${conflicts} conflicting writes retried, ${failedRuns.length} redelivered; all 4 tasks published`;
      },
    );
  });

  it("two reconciles and an event at once", async () => {
    await matrix.scenario(
      "two runs at once: reconciles + event",
      "2 scheduled runs and 1 event together",
      async () => {
        const base = await setUp();
        const w = current();
        const baseline = await storedObjects(w);
        const mark = w.proxy.puts.length;
        const growth = grow(w, base);
        const barrier = gate(3);
        const make = () =>
          buildEngine(w, {
            maxAttempts: 3,
            wrapOutput: (inner) => ({
              ...bindAll(inner),
              location: inner.location,
              write: barrier.wrap(inner),
            }),
          });
        const event = parseTrigger(w.standIn.fleet.taskStateChangeEvent(growth.bravo[0] as string));
        const results = await Promise.all([
          make().engine.run(resync()),
          make().engine.run(resync()),
          make().engine.run(event),
        ]);
        for (const summary of results) expect(summary.ok, JSON.stringify(summary.clusters)).toBe(true);
        const after = await storedObjects(w);
        const expected = await truth(w);
        const outcome = expectNothingLost({
          baseline,
          after,
          expected,
          puts: w.proxy.puts.slice(mark),
          kept: [],
          world: w,
        });
        return `${outcome}; all three runs ok`;
      },
    );
  });
});

/**
 * Holds each participant's first state write until every participant has reached it, so all of them
 * have read the same state before anyone writes.
 */
function gate(parties: number) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    wrap(inner: TargetOutput): TargetOutput["write"] {
      let waited = false;
      return async (ref, body, expected, kind) => {
        if (kind === "state" && !waited) {
          waited = true;
          if (++arrived >= parties) open();
          await opened;
        }
        return inner.write(ref, body, expected, kind);
      };
    },
  };
}

describe("the sidecar when S3 or its disk misbehaves", () => {
  const fileOf = (key: string) => key.slice(TARGETS.length).split("/").join("_");

  async function files(dir: string): Promise<{ json: Record<string, string>; other: string[] }> {
    const json: Record<string, string> = {};
    const other: string[] = [];
    for (const name of (await readdir(dir)).sort()) {
      if (name.endsWith(".json")) json[name] = await readFile(join(dir, name), "utf8");
      else if (!name.endsWith(".state")) other.push(name);
    }
    return { json, other };
  }

  async function expectedFiles(w: World): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [key, body] of await storedObjects(w)) out[fileOf(key)] = body;
    return out;
  }

  /** Engine publishes; the sidecar syncs; the engine publishes a change the sidecar has not fetched yet. */
  async function sidecarSetUp() {
    const base = await setUp();
    const w = current();
    const dir = await mkdtemp(join(tmpdir(), "fault-sidecar-"));
    const client = createS3Client(process.env, { connectionTimeout: 300, requestTimeout: 300 });
    const logger = memoryLogger();
    const syncer = new Syncer(
      new S3ObjectStore(client, BUCKET),
      new FsLocalDir(dir, syncId(BUCKET, TARGETS)),
      { bucket: BUCKET, prefix: TARGETS, maxObjectBytes: 1024 * 1024 },
      logger,
      new SidecarMetrics(),
    );
    await syncer.init();
    expect((await syncer.syncOnce()).ok).toBe(true);
    const good = (await files(dir)).json;
    expect(good).toEqual(await expectedFiles(w));
    grow(w, base);
    expect((await buildEngine(w).engine.run(resync())).ok).toBe(true);
    return { dir, syncer, logger, good, client };
  }

  async function expectKeptThenHealed(
    s: Awaited<ReturnType<typeof sidecarSetUp>>,
    heal: () => Promise<void> | void,
    errorEvent: RegExp,
  ): Promise<string> {
    const during = await files(s.dir);
    expect(during.json, "the last good files are kept byte for byte").toEqual(s.good);
    expect(during.other, "no temp file is left behind").toEqual([]);
    expect(
      fsFaults.renamed.filter((r) => !r.ok),
      "nothing incomplete was ever renamed into place",
    ).toEqual([]);
    const logged = s.logger.records.filter((r) => errorEvent.test(String(r.event)));
    expect(logged.length, `logged ${errorEvent}`).toBeGreaterThan(0);
    await heal();
    const healed = await s.syncer.syncOnce();
    expect(healed.ok).toBe(true);
    expect((await files(s.dir)).json).toEqual(await expectedFiles(current()));
    s.client.destroy();
    return `poll failed or rejected, files kept (${Object.keys(s.good).length}), no temp file; next poll caught up`;
  }

  const transport: { name: string; action: S3FaultRule["action"]; event: RegExp }[] = [
    { name: "object cut mid-body", action: { kind: "truncateBody" }, event: /get_failed/ },
    {
      name: "object garbled in transit",
      action: { kind: "corruptBody" },
      event: /get_failed|object_rejected/,
    },
    { name: "GET never answered", action: { kind: "hang" }, event: /get_failed/ },
  ];

  it.each(transport)("S3 $name", async ({ name, action, event }) => {
    await matrix.scenario(`sidecar: S3 ${name}`, "fault proxy on every GET of an object", async () => {
      const s = await sidecarSetUp();
      current().proxy.inject({ method: "GET", keyPrefix: TARGETS, action });
      const result = await s.syncer.syncOnce();
      expect(result.written).toBe(0);
      return expectKeptThenHealed(s, () => current().proxy.clear(), event);
    });
  });

  it("a truncated object stored in S3", async () => {
    await matrix.scenario(
      "sidecar: truncated object in the bucket",
      "half an object PUT by someone else",
      async () => {
        const s = await sidecarSetUp();
        const w = current();
        const key = targetsKey(w, "alpha");
        const body = (await storedObjects(w)).get(key) ?? "";
        await w.admin.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body.slice(0, body.length / 2) }),
        );
        const result = await s.syncer.syncOnce();
        expect(result.rejected).toBeGreaterThan(0);
        const during = (await files(s.dir)).json;
        expect(during[fileOf(key)], "the last good file stays").toBe(s.good[fileOf(key)]);
        // Other objects are fine and were synced; the engine's next run rewrites the broken one, since it
        // differs from what the engine's state derives.
        return expectKeptThenHealed(
          { ...s, good: during },
          async () => {
            expect((await buildEngine(w).engine.run(resync())).ok).toBe(true);
          },
          /object_rejected/,
        );
      },
    );
  });

  it("the sidecar's disk fills up mid-write", async () => {
    await matrix.scenario("sidecar: disk full mid-write", "ENOSPC after half the bytes", async () => {
      const s = await sidecarSetUp();
      fsFaults.diskFullIn = s.dir;
      const result = await s.syncer.syncOnce();
      expect(result.ok).toBe(false);
      expect(fsFaults.injected).toBeGreaterThan(0);
      return expectKeptThenHealed(
        s,
        () => {
          fsFaults.diskFullIn = undefined;
        },
        /write_failed/,
      );
    });
  });

  it("the sidecar's directory is read-only", async () => {
    await matrix.scenario(
      "sidecar: directory read-only",
      "chmod 0555 (EROFS below the sidecar when root)",
      async () => {
        const s = await sidecarSetUp();
        await chmod(s.dir, 0o555);
        const probe = join(s.dir, ".probe");
        let enforced = true;
        try {
          await writeFile(probe, "x");
          enforced = false;
          await unlink(probe);
        } catch {
          // chmod holds: not root
        }
        if (!enforced) {
          // Root ignores directory permissions: the same refusal, from below the sidecar's own code.
          await chmod(s.dir, 0o755);
          fsFaults.readOnlyIn = s.dir;
        }
        const result = await s.syncer.syncOnce();
        expect(result.ok).toBe(false);
        const how = enforced ? "chmod 0555" : "EROFS injected (root)";
        const outcome = await expectKeptThenHealed(
          s,
          async () => {
            fsFaults.readOnlyIn = undefined;
            await chmod(s.dir, 0o755);
          },
          /write_failed/,
        );
        return `${how}: ${outcome}`;
      },
    );
  });
});
