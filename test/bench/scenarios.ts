import { randomUUID } from "node:crypto";
import { type CounterSnapshot, generateFleet, type StandIn, startStandIn } from "../standin/index.js";
import {
  type CallsByOperation,
  type IncludeSwitches,
  reconcileLowerBound,
  tokenBucketFloorMs,
  totalOf,
} from "./bounds.js";
import { EngineProcess } from "./engine-process.js";
import { MemoryTargetOutput, type WriteStats } from "./memory-output.js";
import type { OrganisationFigures } from "./organisation.js";
import type { InvokeReport } from "./protocol.js";

export interface BenchOptions {
  /** Added by the stand-in before every answer. */
  latencyMs: number;
  /** AWS-like token buckets on the stand-in. */
  throttling: boolean;
}

export const DEFAULT_OPTIONS: BenchOptions = { latencyMs: 20, throttling: true };

/** One measured run; every figure comes from a counter or a clock, none is asserted here. */
export interface Row {
  id: string;
  group: string;
  fleet: { tasks: number; clusters: number; hosts: number };
  /** Requests the stand-in received, by operation (throttled attempts included). */
  calls: CallsByOperation;
  /** What the engine's own call counter recorded; should equal `calls`. */
  engineCalls: CallsByOperation;
  throttled: CallsByOperation;
  /** Cluster refreshes that ended without publishing (each invocation counts its own). */
  failures: number;
  /** Of those, the ones a throttling error ended: what pacing and adaptive retries must prevent. */
  throttlingFailures: number;
  /** Queue messages handed back to SQS for another try. */
  handedBack: number;
  bound?: CallsByOperation;
  floorMs?: number;
  wallMs: number;
  /** Wall time minus the time spent waiting for the object store (S3 in the Lambda). */
  handlerMs: number;
  storageMs: number;
  peakRssBytes: number;
  written: WriteStats;
  samples?: number;
  notes: string[];
  storm?: StormFigures;
  /** The `organisation` group: per-account calls and bounds, STS. */
  organisation?: OrganisationFigures;
}

export interface StormFigures {
  events: number;
  deliveries: number;
  duplicates: number;
  delayed: number;
  batches: number;
  replacedTasks: number;
  newHosts: number;
  applied: number;
  stale: number;
  ignored: number;
  conflicts: number;
  failedMessages: number;
  /** Invocations that gave up after losing every conditional write to the other environment. */
  conflictFailures: number;
  maxBatchHandlerMs: number;
  finalEqualsReconcile: boolean;
  driftAfter: { added: number; removed: number };
  differingObjects: string[];
  /** The scheduled reconcile right after the storm, on the same environment: what one poll costs here. */
  reconcileAfterCalls: CallsByOperation;
}

export function scheduledEvent(standIn: StandIn): unknown {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: standIn.account,
    time: new Date().toISOString().slice(0, 19).concat("Z"),
    region: standIn.region,
    resources: [`arn:aws:events:${standIn.region}:${standIn.account}:rule/ecs-discovery-reconcile`],
    detail: {},
  };
}

let messageSeq = 0;

/** What the SQS event source mapping hands the function: one record per EventBridge event. */
export function sqsBatch(standIn: StandIn, events: unknown[]): unknown {
  return {
    Records: events.map((event) => ({
      messageId: `bench-${++messageSeq}`,
      receiptHandle: "bench",
      body: JSON.stringify(event),
      attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: `arn:aws:sqs:${standIn.region}:${standIn.account}:ecs-discovery-task-events`,
      awsRegion: standIn.region,
    })),
  };
}

export function fleetShape(standIn: StandIn): Row["fleet"] {
  let tasks = 0;
  for (const t of standIn.fleet.tasks.values()) if (t.desiredStatus === "RUNNING") tasks++;
  return { tasks, clusters: standIn.fleet.clusters.size, hosts: standIn.fleet.hosts.size };
}

export interface Measurement {
  report: InvokeReport;
  counters: CounterSnapshot;
  written: WriteStats;
}

/** One invocation with fresh counters and, as after a quiet few minutes in AWS, full token buckets. */
export async function measure(
  standIn: StandIn,
  store: MemoryTargetOutput,
  engine: EngineProcess,
  event: unknown,
  options: BenchOptions,
): Promise<Measurement> {
  standIn.counters.reset();
  store.resetStats();
  if (options.throttling) standIn.faults.throttling(true);
  const report = await engine.invoke(event);
  return { report, counters: standIn.counters.snapshot(), written: store.resetStats() };
}

// The error names AWS uses for throttling, as they appear in a failed cluster's error text.
const THROTTLE = /Throttl|RequestLimitExceeded|TooManyRequests|SlowDown|Rate exceeded/;

export function rowOf(
  id: string,
  group: string,
  standIn: StandIn,
  m: Measurement,
  extra: Partial<Row> = {},
): Row {
  const s = m.report.summary;
  const notes = [...m.report.log.firstProblems];
  return {
    id,
    group,
    fleet: fleetShape(standIn),
    calls: m.counters.calls,
    engineCalls: s.apiCalls,
    throttled: m.counters.throttled,
    failures: s.clusters.filter((c) => c.status === "failed").length,
    throttlingFailures: s.clusters.filter((c) => c.status === "failed" && THROTTLE.test(c.error ?? ""))
      .length,
    handedBack: s.failedMessageIds?.length ?? 0,
    wallMs: m.report.wallMs,
    handlerMs: m.report.wallMs - m.report.storageMs,
    storageMs: m.report.storageMs,
    peakRssBytes: m.report.maxRssBytes,
    written: m.written,
    ...extra,
    notes: [...notes, ...(extra.notes ?? [])],
  };
}

export async function withStandIn<T>(fn: (standIn: StandIn) => Promise<T>): Promise<T> {
  const standIn = await startStandIn();
  try {
    return await fn(standIn);
  } finally {
    await standIn.close();
  }
}

/** Long enough for the largest bucket (burst 100 at 20/s) to refill from empty. */
const QUIET_MS = 5000;
const REFILL_PER_SECOND = 20;

/**
 * A full reconcile by a Lambda environment that has never run (no caches, no state object), then again
 * by the same environment (caches warm, state present, nothing changed).
 */
export async function reconcileGroup(
  group: string,
  size: { tasks: number; clusters: number },
  options: BenchOptions,
  include: IncludeSwitches = { tags: false, services: false },
): Promise<Row[]> {
  return withStandIn(async (standIn) => {
    generateFleet(standIn, { clusters: size.clusters, tasks: size.tasks, seed: 1 });
    standIn.faults.latency(options.latencyMs);
    const bound = reconcileLowerBound(standIn.fleet, include);
    const store = new MemoryTargetOutput(group);
    const engine = await EngineProcess.start(store, engineEnv(standIn, include));
    try {
      const rows: Row[] = [];
      let spent = 0;
      for (const phase of ["cold", "warm"] as const) {
        // Reconciles are minutes apart: by the next one, AWS's buckets and the engine's own pacing
        // buckets are full again. Waiting (for as long as refilling what the last run took needs) keeps
        // the two in step, as they are in AWS.
        const quietMs = Math.min(QUIET_MS, (spent / REFILL_PER_SECOND) * 1000);
        if (quietMs > 0) await new Promise((resolve) => setTimeout(resolve, quietMs + 100));
        const m = await measure(standIn, store, engine, scheduledEvent(standIn), options);
        spent = totalOf(m.counters.calls);
        const b = bound[phase];
        rows.push(
          rowOf(`${group} ${phase}`, group, standIn, m, { bound: b, floorMs: tokenBucketFloorMs(b) }),
        );
      }
      return rows;
    } finally {
      await engine.close();
    }
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function sumCalls(list: CallsByOperation[]): CallsByOperation {
  const out: CallsByOperation = {};
  for (const c of list) for (const [op, n] of Object.entries(c)) out[op] = (out[op] ?? 0) + n;
  return out;
}

/** Several single-event invocations folded into one row: summed counts, median times, the highest peak. */
function foldRows(id: string, group: string, standIn: StandIn, fleet: Row["fleet"], ms: Measurement[]): Row {
  const first = rowOf(id, group, standIn, ms[0] as Measurement, { fleet });
  const rows = ms.map((m) => rowOf(id, group, standIn, m, { fleet }));
  return {
    ...first,
    calls: sumCalls(rows.map((r) => r.calls)),
    engineCalls: sumCalls(rows.map((r) => r.engineCalls)),
    throttled: sumCalls(rows.map((r) => r.throttled)),
    failures: rows.reduce((a, r) => a + r.failures, 0),
    throttlingFailures: rows.reduce((a, r) => a + r.throttlingFailures, 0),
    handedBack: rows.reduce((a, r) => a + r.handedBack, 0),
    wallMs: median(rows.map((r) => r.wallMs)),
    handlerMs: median(rows.map((r) => r.handlerMs)),
    storageMs: median(rows.map((r) => r.storageMs)),
    peakRssBytes: Math.max(...rows.map((r) => r.peakRssBytes)),
    written: {
      writes: {
        targets: rows.reduce((a, r) => a + r.written.writes.targets, 0),
        state: rows.reduce((a, r) => a + r.written.writes.state, 0),
      },
      bytes: {
        targets: rows.reduce((a, r) => a + r.written.bytes.targets, 0),
        state: rows.reduce((a, r) => a + r.written.bytes.state, 0),
      },
      conflicts: rows.reduce((a, r) => a + r.written.conflicts, 0),
    },
    samples: ms.length,
    notes: [...new Set(rows.flatMap((r) => r.notes))],
  };
}

const WARM_SAMPLES = 5;
const COLD_SAMPLES = 3;

/**
 * Single task events on a cluster of `tasks` tasks, each delivered as the queue delivers it (an SQS batch of
 * one). Warm: an environment that already reconciled. Cold: a fresh environment whose first invocation
 * is the event, with the state object a reconcile left in the store.
 */
/** The stand-in's endpoints, and `INCLUDE` for what `include` turns on. */
function engineEnv(standIn: StandIn, include: IncludeSwitches): Record<string, string> {
  const items = [...(include.tags ? ["TAGS"] : []), ...(include.services ? ["SERVICES"] : [])];
  return { ...standIn.env(), ...(items.length > 0 ? { INCLUDE: items.join(",") } : {}) };
}

export async function eventGroup(
  group: string,
  tasks: number,
  options: BenchOptions,
  include: IncludeSwitches = { tags: false, services: false },
): Promise<Row[]> {
  return withStandIn(async (standIn) => {
    const fleet = standIn.fleet;
    generateFleet(standIn, { clusters: 1, tasks, seed: 2 });
    // The events change the fleet; the row describes it as the scenario found it.
    const shape = fleetShape(standIn);
    standIn.faults.latency(options.latencyMs);
    const store = new MemoryTargetOutput(group);
    const cluster = [...fleet.clusters.keys()][0] as string;
    const template = [...fleet.tasks.values()].find(
      (t) => t.lastStatus === "RUNNING" && t.group.endsWith("-api") && t.taskDefinition.revision === 2,
    );
    if (!template) throw new Error("the generated cluster has no bridge service task to copy");
    const start = () => {
      const arn = fleet.runTask(cluster, {
        taskDefinition: template.taskDefinition.arn,
        group: template.group,
      });
      return sqsBatch(standIn, [fleet.taskStateChangeEvent(arn)]);
    };
    const running = [...fleet.tasks.values()].filter(
      (t) => t.lastStatus === "RUNNING" && t.desiredStatus === "RUNNING" && t.group.endsWith("-api"),
    );
    const stop = () => {
      const task = running.pop();
      if (!task) throw new Error("no running task left to stop");
      // The event that takes a target away: the task is asked to stop while still RUNNING.
      fleet.setTaskStatus(task.arn, { desiredStatus: "STOPPED" });
      return sqsBatch(standIn, [fleet.taskStateChangeEvent(task.arn)]);
    };

    const warm = await EngineProcess.start(store, engineEnv(standIn, include));
    const rows: Row[] = [];
    try {
      await measure(standIn, store, warm, scheduledEvent(standIn), options);
      for (const [name, make] of [
        ["start", start],
        ["stop", stop],
      ] as const) {
        const ms: Measurement[] = [];
        for (let i = 0; i < WARM_SAMPLES; i++) ms.push(await measure(standIn, store, warm, make(), options));
        rows.push(foldRows(`${group} ${name} warm`, group, standIn, shape, ms));
      }
    } finally {
      await warm.close();
    }
    for (const [name, make] of [
      ["start", start],
      ["stop", stop],
    ] as const) {
      const ms: Measurement[] = [];
      for (let i = 0; i < COLD_SAMPLES; i++) {
        const cold = await EngineProcess.start(store, engineEnv(standIn, include));
        try {
          ms.push(await measure(standIn, store, cold, make(), options));
        } finally {
          await cold.close();
        }
      }
      rows.push(foldRows(`${group} ${name} cold`, group, standIn, shape, ms));
    }
    return rows.sort((a, b) => a.id.localeCompare(b.id));
  });
}
