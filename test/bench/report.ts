import { type CallsByOperation, totalOf } from "./bounds.js";
import type { BundleFigures } from "./bundle.js";
import type { Row } from "./scenarios.js";

/** The budgets the product aims for. They are reported against, never asserted. */
export const BUDGETS = {
  warmEventCalls: 0,
  warmEventHandlerMs: 20,
  reconcileOverBoundPercent: 5,
  reconcile10kSlackMs: 1000,
  reconcile50kRssBytes: 256 * 1024 * 1024,
  stormMaxCalls: 300,
  bundleBytes: 1024 * 1024,
  initMs: 250,
} as const;

export const RECONCILE_INTERVAL_MINUTES = 5;

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

function table(header: string[], rows: string[][], right: Set<number>): string {
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

export interface PollComparison {
  fleet: string;
  /** ListClusters + ListTasks + DescribeTasks of one full listing, from the counters of a warm reconcile. */
  callsPerPoll: number;
  poll30sPerMinute: number;
  poll60sPerMinute: number;
  /** The scheduled reconcile spread over its interval, plus what events cost in that minute. */
  productPerMinute: number;
  productBasis: string;
  ratio30s: number;
  ratio60s: number;
}

const LISTING = ["ListClusters", "ListTasks", "DescribeTasks"];

function listingCalls(calls: CallsByOperation, throttled: CallsByOperation): number {
  return LISTING.reduce((a, op) => a + (calls[op] ?? 0) - (throttled[op] ?? 0), 0);
}

export function pollComparison(rows: Row[]): PollComparison[] {
  const out: PollComparison[] = [];
  const add = (fleet: string, perPoll: number, product: number, basis: string) => {
    out.push({
      fleet,
      callsPerPoll: perPoll,
      poll30sPerMinute: perPoll * 2,
      poll60sPerMinute: perPoll,
      productPerMinute: product,
      productBasis: basis,
      ratio30s: product > 0 ? (perPoll * 2) / product : Number.POSITIVE_INFINITY,
      ratio60s: product > 0 ? perPoll / product : Number.POSITIVE_INFINITY,
    });
  };
  for (const warm of rows.filter((r) => r.id.startsWith("reconcile-") && r.id.endsWith(" warm"))) {
    const perPoll = listingCalls(warm.calls, warm.throttled);
    const reconcile = totalOf(warm.calls) / RECONCILE_INTERVAL_MINUTES;
    add(
      fleetText(warm),
      perPoll,
      reconcile,
      `warm reconcile every ${RECONCILE_INTERVAL_MINUTES} min, no events`,
    );
  }
  const storm = rows.find((r) => r.storm);
  if (storm?.storm) {
    const perPoll = listingCalls(storm.storm.reconcileAfterCalls, {});
    const reconcile = totalOf(storm.storm.reconcileAfterCalls) / RECONCILE_INTERVAL_MINUTES;
    add(
      `${fleetText(storm)}, deployment minute`,
      perPoll,
      reconcile + totalOf(storm.calls),
      `reconcile every ${RECONCILE_INTERVAL_MINUTES} min + the storm's ${storm.storm.events} events in that minute`,
    );
  }
  return out;
}

export function pollTable(comparisons: PollComparison[]): string {
  const header = [
    "fleet",
    "calls/poll",
    "poller 30 s /min",
    "poller 60 s /min",
    "this product /min",
    "ratio 30 s",
    "ratio 60 s",
    "basis",
  ];
  const body = comparisons.map((c) => [
    c.fleet,
    String(c.callsPerPoll),
    String(c.poll30sPerMinute),
    String(c.poll60sPerMinute),
    c.productPerMinute.toFixed(1),
    `${c.ratio30s.toFixed(1)}x`,
    `${c.ratio60s.toFixed(1)}x`,
    c.productBasis,
  ]);
  return table(header, body, new Set([1, 2, 3, 4, 5, 6]));
}

export interface BundleReport {
  variant: string;
  command: string;
  figures: BundleFigures;
}

export function bundleTable(bundles: BundleReport[]): string {
  const header = [
    "bundle",
    "minified KB",
    "gzip KB",
    "init ms (median)",
    "init ms (all runs)",
    "process ready ms",
  ];
  const body = bundles.map((b) => [
    b.variant,
    (b.figures.bytes / 1024).toFixed(0),
    (b.figures.gzipBytes / 1024).toFixed(0),
    b.figures.medianInitMs.toFixed(0),
    b.figures.initMs.map((x) => x.toFixed(0)).join(" "),
    b.figures.medianProcessReadyMs.toFixed(0),
  ]);
  return table(header, body, new Set([1, 2, 3, 5]));
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
  const storm = rows.find((r) => r.storm);
  push(
    `storm: <= ${BUDGETS.stormMaxCalls} ECS/EC2 calls for 5,000 events, 0 throttling failures, final = reconcile`,
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
      `bundle < 1 MB minified (${b.variant})`,
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

export function stormLines(rows: Row[]): string[] {
  const storm = rows.find((r) => r.storm);
  const s = storm?.storm;
  if (!storm || !s) return [];
  return [
    `storm: ${s.events} events delivered (${s.events - s.duplicates} distinct + ${s.duplicates} at-least-once duplicates; ${s.delayed} delayed into a later batch)` +
      `${s.deliveries > s.events ? ` + ${s.deliveries - s.events} redelivered after a failed batch` : ""}, in ${s.batches} batches over 60 simulated s, ` +
      `${s.replacedTasks} tasks replaced by a new revision, ${s.newHosts} new hosts; applied ${s.applied}, stale ${s.stale}, ignored ${s.ignored} ` +
      `(counted per attempt); ${s.conflicts} conditional-write conflicts retried; ${s.conflictFailures} invocation(s) ` +
      `lost every attempt to the other environment and handed ${s.failedMessages} messages back (redelivered after the visibility timeout); ` +
      `slowest batch ${msText(s.maxBatchHandlerMs)} ms handler time; final state ${s.finalEqualsReconcile ? "equals" : "DIFFERS FROM"} a fresh reconcile` +
      `${s.differingObjects.length ? ` (${s.differingObjects.join(", ")})` : ""}; the next reconcile found drift +${s.driftAfter.added}/-${s.driftAfter.removed}.`,
  ];
}
