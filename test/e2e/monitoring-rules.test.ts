/**
 * The shipped monitoring (monitoring/): Debian's promtool checks the alerting rules and runs their unit
 * tests; every PromQL expression of the Grafana dashboard must parse (promtool check rules, each one as a
 * recording rule, Grafana's variables replaced by concrete values); every metric the rules and the
 * dashboard name must be one the sidecar's registry (sidecar/metrics.ts) exports, or Prometheus's `up`;
 * every runbook annotation must point to a heading of sidecar/README.md. promtool is required: without it
 * these tests fail with the install command, never skip.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { SidecarMetrics } from "../../sidecar/metrics.js";
import { requireBinary } from "../support/prometheus.js";

const ROOT = join(import.meta.dirname, "..", "..");
const RULES_DIR = join(ROOT, "monitoring", "prometheus");
const DASHBOARD = join(ROOT, "monitoring", "grafana", "sidecar-dashboard.json");
const run = promisify(execFile);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Panel {
  title: string;
  type: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr: string; refId: string }>;
  panels?: Panel[];
}

/** What Grafana puts in place of its variables, for the dashboard's expressions to parse as PromQL. */
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: "1m",
  __interval: "1m",
  __range: "1h",
  job: "ecs-sd-sidecar",
  instance: ".*",
};

function substitute(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_, braced?: string, bare?: string) => {
    const name = (braced ?? bare) as string;
    const value = GRAFANA_VARIABLES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable $${name} in ${expr}`);
    return value;
  });
}

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"]);
const OPERATORS = new Set(["and", "or", "unless", "inf", "nan", "Inf", "NaN"]);

/**
 * The metric names an expression selects: identifiers that are not functions, keywords or label names.
 * Strings, label matchers, ranges and grouping clauses are taken out first.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const after = bare.slice((match.index ?? 0) + name.length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(name) || OPERATORS.has(name)) continue;
    names.add(name);
  }
  return [...names];
}

/** Every series name the sidecar's registry exports (histograms as _bucket, _sum and _count). */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new SidecarMetrics({ defaultMetrics: true });
  const names = new Set<string>(["up"]); // Prometheus's own, for the sidecar's scrape job
  for (const line of (await metrics.registry.metrics()).split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (!type) continue;
    const [, name, kind] = type as unknown as [string, string, string];
    names.add(name);
    if (kind === "histogram")
      for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    if (kind === "summary") for (const suffix of ["_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  return names;
}

/** GitHub's anchors of a markdown file's headings. */
async function readmeAnchors(): Promise<Set<string>> {
  const text = await readFile(join(ROOT, "sidecar", "README.md"), "utf8");
  const anchors = new Set<string>();
  for (const match of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const heading = (match[1] as string).trim().toLowerCase();
    anchors.add(heading.replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-"));
  }
  return anchors;
}

function panelsOf(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...panelsOf(panel.panels ?? [])]);
}

let promtool: string;
let ruleFiles: string[];
let testFiles: string[];
let rules: Rule[];
let dashboard: { templating: { list: Array<Record<string, unknown>> }; panels: Panel[] };
let exported: Set<string>;
let work: string;

beforeAll(async () => {
  promtool = requireBinary("promtool");
  const names = (await readdir(RULES_DIR)).sort();
  ruleFiles = names.filter((n) => n.endsWith(".rules.yml")).map((n) => join(RULES_DIR, n));
  testFiles = names.filter((n) => n.endsWith(".test.yml")).map((n) => join(RULES_DIR, n));
  rules = [];
  for (const file of ruleFiles) {
    const doc = parse(await readFile(file, "utf8")) as { groups: Array<{ rules: Rule[] }> };
    for (const group of doc.groups) rules.push(...group.rules);
  }
  dashboard = JSON.parse(await readFile(DASHBOARD, "utf8"));
  exported = await exportedNames();
  work = await mkdtemp(join(tmpdir(), "ecs-sd-monitoring-"));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the sidecar's alerting rules (monitoring/prometheus)", () => {
  it("ships rules and their unit tests", () => {
    expect(ruleFiles.map((f) => f.slice(RULES_DIR.length + 1))).toEqual(["sidecar-alerts.rules.yml"]);
    expect(testFiles.map((f) => f.slice(RULES_DIR.length + 1))).toEqual(["sidecar-alerts.test.yml"]);
    expect(rules.map((r) => r.alert).sort()).toEqual([
      "EcsSdSidecarAbsent",
      "EcsSdSidecarDown",
      "EcsSdSidecarObjectsRejected",
      "EcsSdSidecarRestarting",
      "EcsSdSidecarStale",
      "EcsSdSidecarSyncErrors",
    ]);
  });

  it("promtool check rules", async () => {
    const { stdout } = await run(promtool, ["check", "rules", ...ruleFiles]);
    expect(stdout).toMatch(/SUCCESS: 6 rules found/);
  });

  it("promtool test rules: each alert fires when it should and stays quiet when it should not", async () => {
    const result = await run(promtool, ["test", "rules", ...testFiles], { cwd: RULES_DIR }).catch(
      (error: { stdout?: string; stderr?: string }) => {
        throw new Error(`promtool test rules failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`);
      },
    );
    expect(result.stdout).toMatch(/SUCCESS/);
  });

  it("every alert is tested, and names only metrics the sidecar exports", async () => {
    const tests = (await Promise.all(testFiles.map((f) => readFile(f, "utf8")))).join("\n");
    for (const rule of rules) {
      expect(tests, `${rule.alert} has a unit test`).toContain(`alertname: ${rule.alert}`);
      const names = metricNames(rule.expr);
      expect(names.length, rule.expr).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${rule.alert}: ${name}`).toContain(name);
    }
  });

  it("every alert has a summary, a description and a runbook that points to a sidecar/README.md heading", async () => {
    const anchors = await readmeAnchors();
    for (const rule of rules) {
      expect(rule.labels?.severity, `${rule.alert} severity`).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.summary, `${rule.alert} summary`).toBeTruthy();
      expect(rule.annotations?.description, `${rule.alert} description`).toBeTruthy();
      const runbook = rule.annotations?.runbook ?? "";
      expect(runbook, `${rule.alert} runbook`).toMatch(/^sidecar\/README\.md#/);
      expect(anchors, `${rule.alert}: ${runbook}`).toContain(runbook.split("#")[1]);
    }
  });
});

describe("the sidecar's Grafana dashboard (monitoring/grafana)", () => {
  const expressions = () =>
    panelsOf(dashboard.panels).flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ panel: panel.title, ref: target.refId, expr: target.expr })),
    );

  it("has a Prometheus data source variable that every panel uses", () => {
    const variable = dashboard.templating.list.find((v) => v.type === "datasource");
    expect(variable).toMatchObject({ name: "datasource", query: "prometheus" });
    for (const panel of panelsOf(dashboard.panels)) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      expect(panel.datasource?.uid, panel.title).toBe("${datasource}");
    }
  });

  it("every expression parses as PromQL (promtool check rules, each as a recording rule)", async () => {
    const all = expressions();
    expect(all.length).toBeGreaterThan(10);
    const recorded = all.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: substitute(e.expr) }));
    const file = join(work, "dashboard.rules.yml");
    await writeFile(file, stringify({ groups: [{ name: "dashboard", rules: recorded }] }));
    const result = await run(promtool, ["check", "rules", file]).catch(
      (error: { stdout?: string; stderr?: string }) => {
        throw new Error(`a dashboard expression does not parse:\n${error.stdout ?? ""}${error.stderr ?? ""}`);
      },
    );
    expect(result.stdout).toMatch(new RegExp(`SUCCESS: ${all.length} rules found`));
  });

  it("names only metrics the sidecar exports, and shows what an operator needs", () => {
    const used = new Set<string>();
    for (const { panel, expr } of expressions()) {
      for (const name of metricNames(substitute(expr))) {
        expect(exported, `${panel}: ${name}`).toContain(name);
        used.add(name);
      }
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
      const query = String((variable.query as { query: string }).query);
      const metric = /label_values\(([a-zA-Z_:][\w:]*)/.exec(query)?.[1] ?? "";
      expect(exported, `variable ${String(variable.name)}`).toContain(metric);
    }
    for (const needed of [
      "ecs_discovery_sidecar_syncs_total",
      "ecs_discovery_sidecar_last_successful_sync_timestamp_seconds",
      "ecs_discovery_sidecar_fresh",
      "ecs_discovery_sidecar_objects",
      "ecs_discovery_sidecar_targets",
      "ecs_discovery_sidecar_errors_total",
      "ecs_discovery_sidecar_sync_duration_seconds_bucket",
      "process_resident_memory_bytes",
    ]) {
      expect(used, `the dashboard shows ${needed}`).toContain(needed);
    }
  });

  it("the metric name check itself sees through functions, labels and grouping", () => {
    expect(
      metricNames(
        'sum by (le, kind) (rate(foo_total{kind=~"a|b", le!="x"}[5m] offset 1m)) / on (job) bar > bool 0',
      ),
    ).toEqual(["foo_total", "bar"]);
    expect(metricNames("time() - a_seconds > b_seconds and up == 0")).toEqual([
      "a_seconds",
      "b_seconds",
      "up",
    ]);
    expect(() => substitute("rate(x[$__nope])")).toThrow(/unknown Grafana variable/);
  });
});
