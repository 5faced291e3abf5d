/**
 * `npm run bench [-- --quick | --only reconcile-10k,storm | --json | --latency 20 | --no-throttling]`
 *
 * Runs the engine, with the real SDK clients over HTTP, against the ECS/EC2 stand-in with per-call
 * latency and AWS's token buckets, and prints what it cost: calls by operation next to the least a
 * reconcile can make, throttling, wall time next to the token-bucket floor, handler time without the
 * object store, peak RSS of the engine process, objects written; then a poller's cost on the same fleets,
 * the Lambda bundle, and where each budget stands. Figures are printed, never asserted.
 * Results also go to .tmp/bench/results.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { measureBundle } from "./bundle.js";
import { GROUPS } from "./catalogue.js";
import { organisationBudget, organisationLines } from "./organisation.js";
import {
  type BundleReport,
  budgets,
  budgetTable,
  bundleTable,
  pollComparison,
  pollTable,
  scenarioTable,
  stormLines,
} from "./report.js";
import { type BenchOptions, DEFAULT_OPTIONS, type Row } from "./scenarios.js";
import {
  formatSidecarResults,
  type SidecarBenchResult,
  sidecarBenchAll,
  sidecarBudgets,
} from "./sidecar-scenarios.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const RESULTS = join(ROOT, ".tmp/bench/results.json");

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    latency: { type: "string" },
    "no-throttling": { type: "boolean", default: false },
    "engine-node-options": { type: "string" },
    list: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

const NAMES = [...GROUPS.map((g) => g.name), "bundle", "sidecar"];

if (values.help || values.list) {
  console.log(
    "usage: npm run bench -- [--quick] [--only NAME[,NAME…]] [--json] [--latency MS] [--no-throttling]\n" +
      '                        [--engine-node-options="--max-old-space-size=200"]\n',
  );
  for (const g of GROUPS) console.log(`  ${g.name.padEnd(14)} ${g.quick ? "[quick] " : ""}${g.about}`);
  console.log(
    `  ${"bundle".padEnd(14)} [quick] Lambda bundle size and module init time in fresh Node processes`,
  );
  console.log(
    `  ${"sidecar".padEnd(14)} the sidecar bundle against the S3 stand-in (small, 1k, 10k fleets): requests per idle poll, change → disk, memory`,
  );
  process.exit(0);
}

let selected: string[];
if (values.only) {
  const wanted = values.only
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  selected = NAMES.filter((n) => wanted.some((w) => n === w || n.startsWith(w)));
  const unknown = wanted.filter((w) => !NAMES.some((n) => n === w || n.startsWith(w)));
  if (unknown.length > 0 || selected.length === 0) {
    console.error(`unknown scenario(s): ${unknown.join(", ") || values.only}; known: ${NAMES.join(", ")}`);
    process.exit(2);
  }
} else if (values.quick) {
  selected = [...GROUPS.filter((g) => g.quick).map((g) => g.name), "bundle"];
} else {
  selected = NAMES;
}

const latency = values.latency === undefined ? DEFAULT_OPTIONS.latencyMs : Number(values.latency);
if (!Number.isFinite(latency) || latency < 0) {
  console.error(`--latency must be a number of milliseconds, got ${values.latency}`);
  process.exit(2);
}
if (values["engine-node-options"]) process.env.BENCH_ENGINE_NODE_OPTIONS = values["engine-node-options"];
const options: BenchOptions = { latencyMs: latency, throttling: !values["no-throttling"] };

const started = performance.now();
const rows: Row[] = [];
const timings: Record<string, number> = {};
// Progress goes to stderr, so `--json` output on stdout stays parseable after the tables.
const progress = (text: string) => process.stderr.write(`${text}\n`);

for (const group of GROUPS.filter((g) => selected.includes(g.name))) {
  const t0 = performance.now();
  progress(`… ${group.name}: ${group.about}`);
  rows.push(...(await group.run(options)));
  timings[group.name] = performance.now() - t0;
  progress(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const bundles: BundleReport[] = [];
if (selected.includes("bundle")) {
  const t0 = performance.now();
  progress("… bundle: build:lambda, then cold starts on an event in fresh processes");
  const asScripted = await measureBundle("build-lambda");
  bundles.push({ variant: "npm run build:lambda", command: asScripted.command, figures: asScripted });
  timings.bundle = performance.now() - t0;
}

let sidecar: SidecarBenchResult[] | undefined;
if (selected.includes("sidecar")) {
  const t0 = performance.now();
  progress(
    "… sidecar: dist/sidecar.mjs against the S3 stand-in with 100, 1,000 and 10,000-task fleets' objects, default interval",
  );
  sidecar = await sidecarBenchAll();
  timings.sidecar = performance.now() - t0;
}

const comparisons = pollComparison(rows);
const budgetList = budgets(rows, bundles);
budgetList.push(organisationBudget(rows));
for (const b of sidecarBudgets(sidecar ?? [])) {
  budgetList.push({
    budget: b.budget,
    status: b.ok === undefined ? "not run" : b.ok ? "met" : "missed",
    figure: b.figure,
  });
}
const totalMs = performance.now() - started;

const out: string[] = [];
out.push(
  `prometheus-ecs-discovery benchmark — stand-in with ${options.latencyMs} ms per call, ` +
    `throttling ${options.throttling ? "on (AWS token buckets)" : "off"}, Node ${process.version}, ${selected.join(", ")}`,
  "",
);
if (rows.length > 0) {
  out.push(
    scenarioTable(rows),
    "",
    "calls: LC ListClusters, DC DescribeClusters, LT ListTasks, DT DescribeTasks, TD DescribeTaskDefinition, " +
      "CI DescribeContainerInstances, DS DescribeServices, EI DescribeInstances (EC2), EN DescribeNetworkInterfaces (EC2); " +
      "every HTTP attempt the stand-in received, throttled ones included. bound: the least a reconcile can make (LT pages " +
      "and DT batches of 100, one TD per distinct revision, CI batches of 100, one EI per CI batch, one EN per 100 Fargate " +
      "ENIs, one DS per 10 services, one DC per 100 clusters for their tags; warm: a scheduled reconcile between full " +
      "describes, which knows every running task, so DT only for the tasks still settling: not yet running, or health-checked " +
      "and not yet HEALTHY). floor: the time a full token bucket needs to admit the bound " +
      "(burst 100 then 20/s for LT+DT+CI; 50 then 20/s for TD). handler ms: wall time minus time waiting for the object " +
      "store (S3 in AWS); medians for events. peak RSS: the engine process's maxRSS so far (like Lambda's Max Memory Used).",
  );
  out.push(...stormLines(rows).map((l) => `\n${l}`));
  const organisation = organisationLines(rows);
  if (organisation.length > 0) out.push("", ...organisation);
}
if (comparisons.length > 0) {
  out.push(
    "",
    "A poller (the old poller lists and describes everything every poll, per Prometheus server) vs this product (reconcile every 5 or 15 min, full describe hourly), ECS/EC2 calls per minute:",
  );
  out.push(pollTable(comparisons));
}
if (bundles.length > 0) {
  out.push(
    "",
    `Lambda bundle and cold starts (fresh Node ${process.version} processes; entry: the files the import loads):`,
  );
  out.push(bundleTable(bundles));
}
if (sidecar) out.push("", formatSidecarResults(sidecar));
out.push("", "Budgets (goals, reported, not asserted):", budgetTable(budgetList));
out.push(
  "",
  `took ${(totalMs / 1000).toFixed(1)} s (${Object.entries(timings)
    .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
    .join(", ")})`,
);
console.log(out.join("\n"));

const results = {
  generatedAt: new Date().toISOString(),
  node: process.version,
  options,
  selected,
  rows,
  pollComparison: comparisons,
  bundles,
  sidecar,
  budgets: budgetList,
  timingsMs: timings,
  totalMs,
};
await mkdir(dirname(RESULTS), { recursive: true });
await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
if (values.json) console.log(JSON.stringify(results, null, 2));
else progress(`results: ${RESULTS}`);
