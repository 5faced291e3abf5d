import { type CallsByOperation, totalOf } from "./bounds.js";
import type { BundleFigures } from "./bundle.js";
import { sourceOf } from "./event-source.js";
import type { Row } from "./scenarios.js";

/** The budgets the product aims for. They are reported against, never asserted. */
export const BUDGETS = {
  warmEventCalls: 0,
  warmEventHandlerMs: 20,
  reconcileOverBoundPercent: 5,
  reconcile10kSlackMs: 1000,
  reconcile50kRssBytes: 256 * 1024 * 1024,
  stormMaxCalls: 300,
  pollerRatio30s5min: 20,
  bundleBytes: 1024 * 1024,
  initMs: 250,
} as const;

const SHORT: Record<string, string> = {
  ListClusters: "LC",
  DescribeClusters: "DC",
  ListTasks: "LT",
  DescribeTasks: "DT",
  DescribeTaskDefinition: "TD",
  DescribeContainerInstances: "CI",
  DescribeInstances: "EI",
  DescribeNetworkInterfaces: "EN",
  DescribeServices: "DS",
};
const ORDER = Object.keys(SHORT);

export function formatCalls(calls: CallsByOperation): string {
  const ops = Object.keys(calls).sort((a, b) => rank(a) - rank(b));
  const parts = ops.filter((op) => (calls[op] ?? 0) > 0).map((op) => `${SHORT[op] ?? op}${calls[op]}`);
  return parts.length > 0 ? parts.join(" ") : "-";
}

function rank(op: string): number {
  const i = ORDER.indexOf(op);
  return i < 0 ? ORDER.length : i;
}

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(0)}`;
const sec = (ms: number) => (ms / 1000).toFixed(2);
const msText = (ms: number) => (ms < 100 ? ms.toFixed(1) : ms.toFixed(0));

export function table(header: string[], rows: string[][], right: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function overBoundPercent(row: Row): number | undefined {
  if (!row.bound) return undefined;
  const bound = totalOf(row.bound);
  return bound === 0 ? undefined : ((totalOf(row.calls) - bound) / bound) * 100;
}

function fleetText(row: Row): string {
  const f = row.fleet;
  const n = (x: number) => x.toLocaleString("en-US");
  return `${n(f.tasks)} tasks/${f.clusters} cl/${n(f.hosts)} hosts`;
}

export function scenarioTable(rows: Row[]): string {
  const header = [
    "scenario",
    "fleet",
    "ECS/EC2 calls by operation",
    "calls",
    "bound",
    "+%",
    "throttled",
    "failed",
    "wall s",
    "floor s",
    "handler ms",
    "peak RSS MB",
    "written (targets+state, MB)",
  ];
  const body = rows.map((r) => {
    const over = overBoundPercent(r);
    const written = r.written;
    const per = r.samples && !r.storm ? ` (${r.samples} runs)` : r.storm ? ` (${r.samples} batches)` : "";
    return [
      `${r.id}${per}`,
      fleetText(r),
      formatCalls(r.calls),
      String(totalOf(r.calls)),
      r.bound ? String(totalOf(r.bound)) : "",
      over === undefined ? "" : `${over >= 0 ? "+" : ""}${over.toFixed(1)}`,
      String(totalOf(r.throttled)),
      String(r.failures),
      sec(r.wallMs),
      r.floorMs === undefined ? "" : sec(r.floorMs),
      msText(r.handlerMs),
      mb(r.peakRssBytes),
      `${written.writes.targets}+${written.writes.state} (${((written.bytes.targets + written.bytes.state) / 1e6).toFixed(1)})`,
    ];
  });
  return table(header, body, new Set([3, 4, 5, 6, 7, 8, 9, 10, 11]));
}

/** How often the schedule reconciles, and how often a reconcile describes everything (the defaults). */
const INTERVALS_MINUTES = [5, 15] as const;
const FULL_DESCRIBE_MINUTES = 60;

export interface PollComparison {
  fleet: string;
  /**
   * What a poller calls each poll: the old poller's code lists and describes everything every time, with
   * no cache between polls (ListClusters, ListTasks, DescribeTasks, DescribeTaskDefinition per revision,
   * DescribeContainerInstances and DescribeInstances), which is this product's cold reconcile.
   */
  callsPerPoll: number;
  pollerBasis: string;
  poll30sPerMinute: number;
  poll60sPerMinute: number;
  /** This product per minute at each reconcile interval: the reconcile spread over it, the full describe over an hour, events. */
  productPerMinute: Record<(typeof INTERVALS_MINUTES)[number], number>;
  productBasis: string;
}

const POLLED = [
  "ListClusters",
  "ListTasks",
  "DescribeTasks",
  "DescribeTaskDefinition",
  "DescribeContainerInstances",
  "DescribeInstances",
];

function callsOf(calls: CallsByOperation, throttled: CallsByOperation, ops: readonly string[]): number {
  return ops.reduce((a, op) => a + (calls[op] ?? 0) - (throttled[op] ?? 0), 0);
}

/** This product per minute: a warm reconcile every `interval` minutes, a full describe's extra calls hourly. */
function productPerMinute(warm: number, fullExtra: number, events: number) {
  const at = (interval: number) => warm / interval + fullExtra / FULL_DESCRIBE_MINUTES + events;
  return { 5: at(5), 15: at(15) };
}

export function pollComparison(rows: Row[]): PollComparison[] {
  const out: PollComparison[] = [];
  for (const warm of rows.filter((r) => r.id.startsWith("reconcile-") && r.id.endsWith(" warm"))) {
    const cold = rows.find((r) => r.id === warm.id.replace(/ warm$/, " cold"));
    if (!cold) continue;
    const callsPerPoll = callsOf(cold.calls, cold.throttled, POLLED);
    // A full describe adds what the warm reconcile left out: every DescribeTasks batch, every EC2 instance.
    const fullExtra =
      callsOf(cold.calls, cold.throttled, ["DescribeTasks", "DescribeInstances"]) -
      callsOf(warm.calls, warm.throttled, ["DescribeTasks", "DescribeInstances"]);
    out.push({
      fleet: `${warm.id.replace(/ warm$/, "")}: ${fleetText(warm)}`,
      callsPerPoll,
      pollerBasis: "cold reconcile's calls, every poll",
      poll30sPerMinute: callsPerPoll * 2,
      poll60sPerMinute: callsPerPoll,
      productPerMinute: productPerMinute(totalOf(warm.calls), fullExtra, 0),
      productBasis: `warm reconcile + a full describe every ${FULL_DESCRIBE_MINUTES} min, no events`,
    });
  }
  const storm = defaultStorm(rows);
  if (storm?.storm) {
    const after = storm.storm.reconcileAfterCalls;
    // Only the listing is known for the storm's fleet: a poller that at least lists and describes every task.
    const callsPerPoll = (after.ListClusters ?? 0) + 2 * (after.ListTasks ?? 0);
    out.push({
      fleet: `${fleetText(storm)}, deployment minute`,
      callsPerPoll,
      pollerBasis: "ListClusters + ListTasks + as many DescribeTasks, every poll",
      poll30sPerMinute: callsPerPoll * 2,
      poll60sPerMinute: callsPerPoll,
      productPerMinute: productPerMinute(totalOf(after), after.ListTasks ?? 0, totalOf(storm.calls)),
      productBasis: `reconcile + the storm's ${storm.storm.events} events in that minute`,
    });
  }
  return out;
}

export function pollTable(comparisons: PollComparison[]): string {
  const header = [
    "fleet",
    "poller calls/poll",
    "poller 30 s /min",
    "poller 60 s /min",
    ...INTERVALS_MINUTES.map((i) => `ours /min (${i} min)`),
    ...INTERVALS_MINUTES.flatMap((i) => [`ratio 30 s (${i} min)`, `ratio 60 s (${i} min)`]),
    "basis (poller; ours)",
  ];
  const ratio = (poller: number, ours: number) => (ours > 0 ? `${(poller / ours).toFixed(1)}x` : "inf");
  const body = comparisons.map((c) => [
    c.fleet,
    String(c.callsPerPoll),
    String(c.poll30sPerMinute),
    String(c.poll60sPerMinute),
    ...INTERVALS_MINUTES.map((i) => c.productPerMinute[i].toFixed(1)),
    ...INTERVALS_MINUTES.flatMap((i) => [
      ratio(c.poll30sPerMinute, c.productPerMinute[i]),
      ratio(c.poll60sPerMinute, c.productPerMinute[i]),
    ]),
    `${c.pollerBasis}; ${c.productBasis}`,
  ]);
  return table(header, body, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]));
}

export interface BundleReport {
  variant: string;
  command: string;
  figures: BundleFigures;
}

export function bundleTable(bundles: BundleReport[]): string {
  const header = [
    "bundle",
    "entry KB",
    "entry gzip KB",
    "entry files",
    "all files KB",
    "import ms (median)",
    "import ms (all runs)",
    "process ready ms",
  ];
  const body = bundles.map((b) => [
    b.variant,
    (b.figures.bytes / 1024).toFixed(0),
    (b.figures.gzipBytes / 1024).toFixed(0),
    String(b.figures.initFiles.length),
    `${(b.figures.totalBytes / 1024).toFixed(0)} in ${b.figures.files.length}`,
    b.figures.medianInitMs.toFixed(0),
    b.figures.initMs.map((x) => x.toFixed(0)).join(" "),
    b.figures.medianProcessReadyMs.toFixed(0),
  ]);
  const events = bundles.flatMap((b) =>
    [
      ["against nothing", b.figures.againstNothing],
      ["known host, stand-in", b.figures.againstStandIn],
    ].flatMap(([where, f]) =>
      typeof f === "object"
        ? [
            [
              `${b.variant}, ${where}`,
              f.medianImportMs.toFixed(0),
              f.medianFirstEventMs.toFixed(0),
              (f.medianImportMs + f.medianFirstEventMs).toFixed(0),
              f.loadedByEvent.join(" ") || "-",
              f.outcome,
            ],
          ]
        : [],
    ),
  );
  const eventHeader = [
    "cold start on an SQS task event",
    "import ms",
    "event ms",
    "sum",
    "files the event loaded",
    "answer",
  ];
  return [
    table(header, body, new Set([1, 2, 3, 4, 5, 7])),
    "",
    table(eventHeader, events, new Set([1, 2, 3])),
  ].join("\n");
}

export interface BudgetStatus {
  budget: string;
  status: "met" | "missed" | "not run";
  figure: string;
}

export function budgets(rows: Row[], bundles: BundleReport[]): BudgetStatus[] {
  const out: BudgetStatus[] = [];
  const push = (budget: string, ok: boolean | undefined, figure: string) =>
    out.push({ budget, status: ok === undefined ? "not run" : ok ? "met" : "missed", figure });

  // With TAGS a new task costs one DescribeTasks per 100 (events carry no tags): by design, not a miss.
  const warm = rows.filter((r) => / (start|stop) warm$/.test(r.id) && !r.id.includes("tags"));
  push(
    `warm event (without TAGS): ${BUDGETS.warmEventCalls} ECS calls, handler < ${BUDGETS.warmEventHandlerMs} ms`,
    warm.length === 0
      ? undefined
      : warm.every((r) => totalOf(r.calls) === 0 && r.handlerMs < BUDGETS.warmEventHandlerMs),
    warm.map((r) => `${r.id}: ${totalOf(r.calls)} calls, ${msText(r.handlerMs)} ms`).join("; ") || "-",
  );
  const reconciles = rows.filter((r) => r.bound);
  push(
    `reconcile <= ${BUDGETS.reconcileOverBoundPercent} % above the lower bound of calls`,
    reconciles.length === 0
      ? undefined
      : reconciles.every((r) => (overBoundPercent(r) ?? 0) <= BUDGETS.reconcileOverBoundPercent),
    reconciles.map((r) => `${r.id}: ${(overBoundPercent(r) ?? 0).toFixed(1)} %`).join("; ") || "-",
  );
  const tenK = rows.filter((r) => r.id.startsWith("reconcile-10k "));
  push(
    "10,000 tasks within the token-bucket floor + 1 s",
    tenK.length === 0
      ? undefined
      : tenK.every((r) => r.wallMs <= (r.floorMs ?? 0) + BUDGETS.reconcile10kSlackMs),
    tenK.map((r) => `${r.id}: ${sec(r.wallMs)} s vs ${sec((r.floorMs ?? 0) + 1000)} s`).join("; ") || "-",
  );
  const fiftyK = rows.filter((r) => r.id.startsWith("reconcile-50k "));
  push(
    "50,000 tasks within 256 MB RSS",
    fiftyK.length === 0 ? undefined : fiftyK.every((r) => r.peakRssBytes <= BUDGETS.reconcile50kRssBytes),
    fiftyK.map((r) => `${r.id}: ${mb(r.peakRssBytes)} MB`).join("; ") || "-",
  );
  const steady = pollComparison(rows).filter((c) => !c.fleet.endsWith("deployment minute"));
  push(
    `a 30 s poller makes >= ${BUDGETS.pollerRatio30s5min}x our calls (5 min reconcile, no events)`,
    steady.length === 0
      ? undefined
      : steady.every((c) => c.poll30sPerMinute >= BUDGETS.pollerRatio30s5min * c.productPerMinute[5]),
    steady.map((c) => `${c.fleet}: ${(c.poll30sPerMinute / c.productPerMinute[5]).toFixed(1)}x`).join("; ") ||
      "-",
  );
  const storm = defaultStorm(rows);
  push(
    `storm at the construct's queue defaults: <= ${BUDGETS.stormMaxCalls} ECS/EC2 calls for 5,000 events, 0 throttling failures, final = reconcile`,
    storm?.storm
      ? totalOf(storm.calls) <= BUDGETS.stormMaxCalls &&
          storm.throttlingFailures === 0 &&
          storm.storm.finalEqualsReconcile
      : undefined,
    storm?.storm
      ? `${totalOf(storm.calls)} calls, ${totalOf(storm.throttled)} throttled, ${storm.throttlingFailures} throttling failures, ` +
          `final ${storm.storm.finalEqualsReconcile ? "=" : "!="} reconcile (${storm.failures} invocation(s) failed, ` +
          `${storm.storm.conflictFailures} of them on write conflicts; ${storm.handedBack} messages handed back)`
      : "-",
  );
  for (const b of bundles) {
    push(
      `bundle entry < 1 MB minified (${b.variant})`,
      b.figures.bytes < BUDGETS.bundleBytes,
      `${(b.figures.bytes / 1024).toFixed(0)} KB`,
    );
    push(
      `init < ${BUDGETS.initMs} ms (${b.variant})`,
      b.figures.medianInitMs < BUDGETS.initMs,
      `${b.figures.medianInitMs.toFixed(0)} ms median`,
    );
  }
  if (bundles.length === 0) {
    push("bundle < 1 MB minified", undefined, "-");
    push(`init < ${BUDGETS.initMs} ms`, undefined, "-");
  }
  return out;
}

export function budgetTable(list: BudgetStatus[]): string {
  return table(
    ["budget", "status", "where it stands"],
    list.map((b) => [b.budget, b.status, b.figure]),
    new Set(),
  );
}

/** The storm run at the construct's own event source defaults, which the budget is judged on. */
function defaultStorm(rows: Row[]): Row | undefined {
  const storms = rows.filter((r) => r.storm);
  return storms.find((r) => sourceOf(r)?.isDefault) ?? storms[0];
}

/** Within the storm budget: the bar a batching window has to clear before its latency counts. */
function stormWithinBudget(row: Row): boolean {
  return (
    totalOf(row.calls) <= BUDGETS.stormMaxCalls &&
    row.throttlingFailures === 0 &&
    row.storm?.finalEqualsReconcile === true
  );
}

/** One line per event source setting: what the window costs in calls and what it adds to each event. */
export function stormTable(rows: Row[]): string {
  const header = [
    "window s",
    "batch",
    "conc",
    "invocations",
    "ECS/EC2 calls",
    "throttled",
    "thr. failures",
    "conflicts",
    "handed back",
    "wait mean/p50/p99/max s",
    "settled p50/p99/max s",
    "final = reconcile",
    "in budget",
  ];
  const s2 = (ms: number) => (ms / 1000).toFixed(2);
  const body = rows.flatMap((r) => {
    const src = sourceOf(r);
    if (!src || !r.storm) return [];
    const w = src.waitMs;
    const t = src.settledMs;
    return [
      [
        `${src.windowSeconds}${src.isDefault ? " (default)" : ""}`,
        String(src.batchSize),
        String(src.maxConcurrency),
        String(src.invocations),
        String(totalOf(r.calls)),
        String(totalOf(r.throttled)),
        String(r.throttlingFailures),
        String(r.storm.conflicts),
        String(r.handedBack),
        [w.mean, w.p50, w.p99, w.max].map(s2).join(" / "),
        [t.p50, t.p99, t.max].map(s2).join(" / "),
        r.storm.finalEqualsReconcile ? "yes" : "NO",
        stormWithinBudget(r) ? "yes" : "no",
      ],
    ];
  });
  return table(header, body, new Set([1, 2, 3, 4, 5, 6, 7, 8]));
}

/** The setting with the lowest p99 wait among those within the storm budget, as the bench would pick it. */
function stormPick(rows: Row[]): string {
  const within = rows.filter((r) => sourceOf(r) && stormWithinBudget(r));
  const best = within.sort((a, b) => (sourceOf(a)?.waitMs.p99 ?? 0) - (sourceOf(b)?.waitMs.p99 ?? 0))[0];
  const src = best && sourceOf(best);
  if (!src)
    return `no setting measured kept the storm within ${BUDGETS.stormMaxCalls} calls and 0 throttling failures`;
  return (
    `lowest p99 wait within ${BUDGETS.stormMaxCalls} calls, 0 throttling failures and final = reconcile: window ` +
    `${src.windowSeconds} s, batch ${src.batchSize}${src.isDefault ? " (the construct's default)" : " (NOT the construct's default)"}`
  );
}

export function stormLines(rows: Row[]): string[] {
  const storm = defaultStorm(rows);
  const s = storm?.storm;
  if (!storm || !s) return [];
  const sources = rows.filter((r) => sourceOf(r));
  const settings =
    sources.length === 0
      ? []
      : [
          "storm by event source setting (window, batch size, maximum concurrency), in real time; wait: a message " +
            "visible in the queue until an invocation takes it; settled: until that invocation returned, state and " +
            "targets committed:\n" +
            `${stormTable(sources)}\n${stormPick(sources)}`,
        ];
  return [
    ...settings,
    `${storm.id}: ${s.events} events delivered (${s.events - s.duplicates} distinct + ${s.duplicates} at-least-once duplicates; ${s.delayed} delayed by EventBridge)` +
      `${s.deliveries > s.events ? ` + ${s.deliveries - s.events} redelivered after a failed batch` : ""}, in ${s.batches} batches over 60 s, ` +
      `${s.replacedTasks} tasks replaced by a new revision, ${s.newHosts} new hosts; applied ${s.applied}, stale ${s.stale}, ignored ${s.ignored} ` +
      `(counted per attempt); ${s.conflicts} conditional-write conflicts retried; ${s.conflictFailures} invocation(s) ` +
      `lost every attempt to the other environment and handed ${s.failedMessages} messages back (redelivered after the visibility timeout); ` +
      `slowest batch ${msText(s.maxBatchHandlerMs)} ms handler time; final state ${s.finalEqualsReconcile ? "equals" : "DIFFERS FROM"} a fresh reconcile` +
      `${s.differingObjects.length ? ` (${s.differingObjects.join(", ")})` : ""}; the next reconcile found drift +${s.driftAfter.added}/-${s.driftAfter.removed}.`,
  ];
}
