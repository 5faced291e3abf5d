import type { TaskDefinitionRecord, TaskRecord, TaskStatus } from "../standin/index.js";
import { generateFleet, type StandIn } from "../standin/index.js";
import { Prng } from "../standin/prng.js";
import { EngineProcess } from "./engine-process.js";
import { MemoryTargetOutput } from "./memory-output.js";
import type { InvokeReport } from "./protocol.js";
import {
  type BenchOptions,
  measure,
  type Row,
  rowOf,
  type StormFigures,
  scheduledEvent,
  sqsBatch,
  withStandIn,
} from "./scenarios.js";

/**
 * A rolling deployment seen through the event pipeline: EventBridge (only the transitions the rule
 * matches) → SQS (at-least-once, unordered) → event source mapping (batches of up to 1000 or 5 s) → at
 * most two concurrent invocations sharing one bucket. Time is simulated: the fleet changes at each
 * event's timestamp, and a batch is handed over once its window has closed in simulated time.
 */
export const STORM_EVENTS = 5000;
export const STORM_SECONDS = 60;
const CLUSTER_TASKS = 2000;
const WINDOW_MS = 5000;
const BATCH_MAX = 1000;
const CONCURRENCY = 2;
const DUPLICATE_SHARE = 0.02;
const DELAYED_SHARE = 0.01;
const NEW_HOSTS = 5;
/** Replacements start over the first 45 s; a replaced task drains for 12 s, so all ends inside 60 s. */
const DEPLOY_SPAN_MS = 45_000;
const VISIBILITY_TIMEOUT_MS = 30_000;
const GIVE_UP_MS = 10 * 60_000;

interface Step {
  at: number;
  apply: () => string;
}

interface Delivery {
  availableAt: number;
  body: unknown;
}

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

export async function stormGroup(group: string, options: BenchOptions): Promise<Row[]> {
  return withStandIn(async (standIn) => {
    const rng = new Prng(42);
    generateFleet(standIn, { clusters: 1, tasks: CLUSTER_TASKS, seed: 3 });
    standIn.faults.latency(options.latencyMs);
    const cluster = [...standIn.fleet.clusters.keys()][0] as string;
    const store = new MemoryTargetOutput(group);
    // The event source mapping's maxConcurrency: at most this many environments take batches at once.
    const engines: EngineProcess[] = [];
    for (let i = 0; i < CONCURRENCY; i++) engines.push(await EngineProcess.start(store, standIn.env()));
    const first = engines[0] as EngineProcess;
    try {
      await measure(standIn, store, first, scheduledEvent(standIn), options);
      const plan = planDeployment(standIn, cluster, rng);

      standIn.counters.reset();
      store.resetStats();
      if (options.throttling) standIn.faults.throttling(true);
      const reports: InvokeReport[] = [];
      const pending: Delivery[] = [];
      const redelivered = new Set<number>();
      while (redelivered.size < Math.min(plan.duplicates, plan.steps.length))
        redelivered.add(rng.int(0, plan.steps.length - 1));
      let delayed = 0;
      let deliveries = 0;
      let batches = 0;
      let stepIndex = 0;
      const busy = new Set<Promise<void>>();
      const idle = [...engines];
      const started = performance.now();

      for (
        let windowEnd = WINDOW_MS;
        (stepIndex < plan.steps.length || pending.length > 0 || busy.size > 0) && windowEnd < GIVE_UP_MS;
        windowEnd += WINDOW_MS
      ) {
        while (stepIndex < plan.steps.length && (plan.steps[stepIndex] as Step).at < windowEnd) {
          const index = stepIndex++;
          const step = plan.steps[index] as Step;
          const body = standIn.fleet.taskStateChangeEvent(step.apply());
          let availableAt = step.at;
          if (rng.bool(DELAYED_SHARE)) {
            availableAt += rng.int(3000, 8000);
            delayed++;
          }
          pending.push({ availableAt, body });
          // At-least-once: a copy of the same event, a few seconds later.
          if (redelivered.has(index)) pending.push({ availableAt: step.at + rng.int(1000, 10_000), body });
        }
        const due = pending.filter((d) => d.availableAt < windowEnd);
        for (let i = pending.length - 1; i >= 0; i--)
          if ((pending[i] as Delivery).availableAt < windowEnd) pending.splice(i, 1);
        // A standard queue promises no order within what it hands over.
        for (let i = due.length - 1; i > 0; i--) {
          const j = rng.int(0, i);
          [due[i], due[j]] = [due[j] as Delivery, due[i] as Delivery];
        }
        for (let i = 0; i < due.length; i += BATCH_MAX) {
          const events = due.slice(i, i + BATCH_MAX).map((d) => d.body);
          deliveries += events.length;
          batches++;
          while (idle.length === 0) await Promise.race(busy);
          const engine = idle.pop() as EngineProcess;
          const payload = sqsBatch(standIn, events) as { Records: { messageId: string }[] };
          const retryAt = windowEnd + VISIBILITY_TIMEOUT_MS;
          const job: Promise<void> = engine.invoke(payload).then((report) => {
            reports.push(report);
            // Messages handed back become visible again after the visibility timeout.
            const failed = new Set(report.summary.failedMessageIds ?? []);
            payload.Records.forEach((r, k) => {
              if (failed.has(r.messageId)) pending.push({ availableAt: retryAt, body: events[k] });
            });
            idle.push(engine);
            busy.delete(job);
          });
          busy.add(job);
        }
        // Past the last change, wait for the invocations in flight: they may hand messages back.
        if (stepIndex >= plan.steps.length && busy.size > 0) await Promise.race(busy);
      }
      await Promise.all(busy);
      const wallMs = performance.now() - started;
      const counters = standIn.counters.snapshot();
      const written = store.resetStats();

      // The check: what a reconcile of the final fleet publishes from scratch, byte for byte.
      const fresh = new MemoryTargetOutput(`${group}-fresh`);
      const verifier = await EngineProcess.start(fresh, standIn.env());
      try {
        await measure(standIn, fresh, verifier, scheduledEvent(standIn), options);
      } finally {
        await verifier.close();
      }
      const ours = store.targets();
      const theirs = fresh.targets();
      const differing = [...new Set([...ours.keys(), ...theirs.keys()])].filter(
        (k) => ours.get(k) !== theirs.get(k),
      );
      const after = await measure(standIn, store, first, scheduledEvent(standIn), options);

      const sum = (f: (r: InvokeReport) => number) => reports.reduce((a, r) => a + f(r), 0);
      const figures: StormFigures = {
        events: STORM_EVENTS,
        deliveries,
        duplicates: plan.duplicates,
        delayed,
        batches,
        replacedTasks: plan.replaced,
        newHosts: NEW_HOSTS,
        applied: sum((r) => r.summary.events.applied),
        stale: sum((r) => r.summary.events.stale),
        ignored: sum((r) => r.summary.events.ignored),
        conflicts: written.conflicts,
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
      const combined = {
        report: {
          ...(reports[0] as InvokeReport),
          wallMs,
          storageMs: sum((r) => r.storageMs),
          maxRssBytes: Math.max(...reports.map((r) => r.maxRssBytes)),
          log: {
            warn: sum((r) => r.log.warn),
            error: sum((r) => r.log.error),
            conflicts: sum((r) => r.log.conflicts),
            firstProblems: reports.flatMap((r) => r.log.firstProblems).slice(0, 5),
          },
          summary: {
            ...(reports[0] as InvokeReport).summary,
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
      const row = rowOf(`${group}`, group, standIn, combined, {
        handlerMs: sum((r) => r.wallMs - r.storageMs),
        storm: figures,
        samples: reports.length,
      });
      return [row];
    } finally {
      await Promise.all(engines.map((e) => e.close()));
    }
  });
}

function sumBy(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of list) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}
