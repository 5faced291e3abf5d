import type { CounterSnapshot, TaskDefinitionRecord, TaskRecord, TaskStatus } from "../standin/index.js";
import { generateFleet, type StandIn } from "../standin/index.js";
import { Prng } from "../standin/prng.js";
import { EngineProcess } from "./engine-process.js";
import {
  checkSource,
  DEFAULT_SOURCE,
  type SourceConfig,
  type SourceFigures,
  type StormRow,
  sameSource,
  spread,
} from "./event-source.js";
import { MemoryTargetOutput, type WriteStats } from "./memory-output.js";
import type { InvokeReport } from "./protocol.js";
import {
  type BenchOptions,
  type Measurement,
  measure,
  type Row,
  rowOf,
  type StormFigures,
  scheduledEvent,
  withStandIn,
} from "./scenarios.js";
import { type Driven, GIVE_UP_SECONDS, type Step, StormDriver } from "./storm-driver.js";

/**
 * A rolling deployment seen through the event pipeline: EventBridge (only the transitions the rule
 * matches) → SQS (at-least-once, unordered) → the event source mapping under one setting of window, batch
 * size and maximum concurrency (`event-source.ts` models its pollers) → that many environments sharing one
 * bucket. The run keeps real time: the fleet changes at each event's offset from the start, the window
 * closes on the wall clock and an invocation takes as long as the engine takes, so the stand-in's token
 * buckets refill at AWS's rate and the waits are what a task's event would see.
 */
export const STORM_EVENTS = 5000;
export const STORM_SECONDS = 60;
const CLUSTER_TASKS = 2000;
const DUPLICATE_SHARE = 0.02;
const NEW_HOSTS = 5;
/** Replacements start over the first 45 s; a replaced task drains for 12 s, so all ends inside 60 s. */
const DEPLOY_SPAN_MS = 45_000;

/** The transitions after which the rule delivers an event: lastStatus RUNNING, or desiredStatus STOPPED. */
function stopPath(task: TaskRecord): [number, TaskStatus | "ask"][] {
  return task.taskDefinition.networkMode === "awsvpc"
    ? [
        [1000, "ask"],
        [2000, "DEACTIVATING"],
        [8000, "STOPPING"],
        [10_000, "DEPROVISIONING"],
        [12_000, "STOPPED"],
      ]
    : [
        [1000, "ask"],
        [8000, "STOPPING"],
        [12_000, "STOPPED"],
      ];
}

function nextRevision(standIn: StandIn, td: TaskDefinitionRecord): string {
  return standIn.fleet.registerTaskDefinition({
    family: td.family,
    networkMode: td.networkMode,
    requiresCompatibilities: [...td.requiresCompatibilities],
    ...(td.cpu !== undefined ? { cpu: td.cpu } : {}),
    ...(td.memory !== undefined ? { memory: td.memory } : {}),
    containers: td.containerDefinitions.map((c) => ({
      name: c.name,
      image: c.image.replace(/:[^:/]+$/, ":deploy"),
      essential: c.essential,
      cpu: c.cpu,
      ...(c.memory !== undefined ? { memory: c.memory } : {}),
      dockerLabels: { ...c.dockerLabels },
      portMappings: c.portMappings.map((p) => ({
        containerPort: p.containerPort,
        ...(td.networkMode === "bridge" ? { hostPort: p.hostPort } : {}),
        protocol: p.protocol,
      })),
    })),
  });
}

/** The deployment as timed steps, sized so that base events plus redeliveries make exactly STORM_EVENTS. */
function planDeployment(standIn: StandIn, cluster: string, rng: Prng) {
  const fleet = standIn.fleet;
  const services = [...fleet.tasks.values()].filter(
    (t) =>
      t.lastStatus === "RUNNING" &&
      t.desiredStatus === "RUNNING" &&
      /-(api|vpc|fargate)$/.test(t.group) &&
      t.group.startsWith("service:"),
  );
  for (let i = services.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [services[i], services[j]] = [services[j] as TaskRecord, services[i] as TaskRecord];
  }
  const baseTarget = Math.round(STORM_EVENTS / (1 + DUPLICATE_SHARE));
  const chosen: TaskRecord[] = [];
  let baseEvents = 0;
  for (const task of services) {
    const cost = 1 + stopPath(task).length;
    if (baseEvents + cost > baseTarget) break;
    chosen.push(task);
    baseEvents += cost;
  }
  const revisions = new Map<string, string>();
  for (const task of chosen) {
    const latest = fleet.families.get(task.taskDefinition.family)?.at(-1) as TaskDefinitionRecord;
    if (!revisions.has(latest.family)) revisions.set(latest.family, nextRevision(standIn, latest));
  }
  // Scale-out for the surge: new container instances that no cache and no state has seen.
  for (let h = 0; h < NEW_HOSTS; h++) fleet.addHost(cluster);

  const steps: Step[] = [];
  chosen.forEach((old, i) => {
    const at = Math.floor((DEPLOY_SPAN_MS * i) / chosen.length);
    steps.push({
      at,
      apply: () => {
        const launchType = old.launchType === "FARGATE" ? ({ launchType: "FARGATE" } as const) : {};
        return fleet.runTask(cluster, {
          taskDefinition: revisions.get(old.taskDefinition.family) as string,
          group: old.group,
          ...launchType,
          tags: { ...old.tags },
        });
      },
    });
    for (const [offset, change] of stopPath(old)) {
      steps.push({
        at: at + offset,
        apply: () => {
          if (change === "ask") fleet.setTaskStatus(old.arn, { desiredStatus: "STOPPED" });
          else fleet.setTaskStatus(old.arn, { lastStatus: change });
          return old.arn;
        },
      });
    }
  });
  steps.sort((a, b) => a.at - b.at);
  return { steps, replaced: chosen.length, baseEvents, duplicates: STORM_EVENTS - baseEvents };
}

/** The storm under one event source setting: a row with calls, throttles, invocations and waits. */
export async function stormGroup(group: string, options: BenchOptions, source: SourceConfig): Promise<Row[]> {
  checkSource(source);
  return withStandIn(async (standIn) => {
    const rng = new Prng(42);
    generateFleet(standIn, { clusters: 1, tasks: CLUSTER_TASKS, seed: 3 });
    standIn.faults.latency(options.latencyMs);
    const cluster = [...standIn.fleet.clusters.keys()][0] as string;
    const store = new MemoryTargetOutput(group);
    // One environment per concurrency slot: that many take batches at once, each with its own caches.
    const engines: EngineProcess[] = [];
    for (let i = 0; i < source.maxConcurrency; i++) {
      engines.push(await EngineProcess.start(store, standIn.env()));
    }
    const first = engines[0] as EngineProcess;
    try {
      await measure(standIn, store, first, scheduledEvent(standIn), options);
      const plan = planDeployment(standIn, cluster, rng);
      standIn.counters.reset();
      store.resetStats();
      if (options.throttling) standIn.faults.throttling(true);
      const driven = await new StormDriver(standIn, plan, engines, source, rng).run();
      const counters = standIn.counters.snapshot();
      const written = store.resetStats();
      const differing = await differingFromReconcile(standIn, store, group, options);
      const after = await measure(standIn, store, first, scheduledEvent(standIn), options);
      const figures = stormFigures(plan, driven, written.conflicts, differing, after);
      const row = rowOf(`storm ${sourceLabel(source)}`, group, standIn, combine(driven, counters, written), {
        handlerMs: sumOf(driven.reports, (r) => r.wallMs - r.storageMs),
        storm: figures,
        samples: driven.reports.length,
        notes: driven.gaveUp ? [`gave up after ${GIVE_UP_SECONDS} s with messages still queued`] : [],
      });
      const stormRow: StormRow = { ...row, source: sourceFigures(source, driven) };
      return [stormRow];
    } finally {
      await Promise.all(engines.map((e) => e.close()));
    }
  });
}

const sourceLabel = (s: SourceConfig) =>
  `window ${s.windowSeconds} s, batch ${s.batchSize}, concurrency ${s.maxConcurrency}`;

/** The check: what a reconcile of the final fleet publishes from scratch, byte for byte. */
async function differingFromReconcile(
  standIn: StandIn,
  store: MemoryTargetOutput,
  group: string,
  options: BenchOptions,
): Promise<string[]> {
  const fresh = new MemoryTargetOutput(`${group}-fresh`);
  const verifier = await EngineProcess.start(fresh, standIn.env());
  try {
    await measure(standIn, fresh, verifier, scheduledEvent(standIn), options);
  } finally {
    await verifier.close();
  }
  const ours = store.targets();
  const theirs = fresh.targets();
  return [...new Set([...ours.keys(), ...theirs.keys()])].filter((k) => ours.get(k) !== theirs.get(k));
}

function sourceFigures(source: SourceConfig, driven: Driven): SourceFigures {
  return {
    ...source,
    isDefault: sameSource(source, DEFAULT_SOURCE),
    invocations: driven.reports.length,
    waitMs: spread(driven.waits),
    settledMs: spread(driven.settled),
  };
}

function stormFigures(
  plan: ReturnType<typeof planDeployment>,
  driven: Driven,
  conflicts: number,
  differing: string[],
  after: Measurement,
): StormFigures {
  const reports = driven.reports;
  const sum = (f: (r: InvokeReport) => number) => sumOf(reports, f);
  return {
    events: STORM_EVENTS,
    deliveries: driven.deliveries,
    duplicates: plan.duplicates,
    delayed: driven.delayed,
    batches: reports.length,
    replacedTasks: plan.replaced,
    newHosts: NEW_HOSTS,
    applied: sum((r) => r.summary.events.applied),
    stale: sum((r) => r.summary.events.stale),
    ignored: sum((r) => r.summary.events.ignored),
    conflicts,
    failedMessages: sum((r) => r.summary.failedMessageIds?.length ?? 0),
    conflictFailures: sum(
      (r) => r.summary.clusters.filter((c) => /kept changing/.test(c.error ?? "")).length,
    ),
    maxBatchHandlerMs: Math.max(...reports.map((r) => r.wallMs - r.storageMs)),
    finalEqualsReconcile: differing.length === 0,
    driftAfter: after.report.summary.drift,
    differingObjects: differing,
    reconcileAfterCalls: after.counters.calls,
  };
}

/** Every invocation of the run as one measurement, so the row reads like any other scenario's. */
function combine(driven: Driven, counters: CounterSnapshot, written: WriteStats): Measurement {
  const reports = driven.reports;
  const sum = (f: (r: InvokeReport) => number) => sumOf(reports, f);
  const firstReport = reports[0] as InvokeReport;
  return {
    report: {
      ...firstReport,
      wallMs: driven.wallMs,
      storageMs: sum((r) => r.storageMs),
      maxRssBytes: Math.max(...reports.map((r) => r.maxRssBytes)),
      log: {
        warn: sum((r) => r.log.warn),
        error: sum((r) => r.log.error),
        conflicts: sum((r) => r.log.conflicts),
        firstProblems: reports.flatMap((r) => r.log.firstProblems).slice(0, 5),
      },
      summary: {
        ...firstReport.summary,
        apiCalls: sumBy(reports.map((r) => r.summary.apiCalls)),
        objects: {
          written: sum((r) => r.summary.objects.written),
          unchanged: sum((r) => r.summary.objects.unchanged),
          deleted: 0,
          failed: sum((r) => r.summary.objects.failed),
        },
        failedMessageIds: reports.flatMap((r) => r.summary.failedMessageIds ?? []),
        clusters: reports.flatMap((r) => r.summary.clusters),
      },
    },
    counters,
    written,
  };
}

const sumOf = <T>(list: readonly T[], f: (x: T) => number) => list.reduce((a, x) => a + f(x), 0);

function sumBy(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of list) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}
