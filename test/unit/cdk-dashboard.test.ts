import { Duration } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import {
  CLUSTER_METRICS,
  METRIC_DIMENSIONS,
  OPERATION_METRICS,
  RUN_METRICS,
  SKIPPED_BY_REASON_METRIC,
} from "../../lambda/shared/metric-names.js";
import { METRICS_NAMESPACE, SERVICE_NAME } from "../../lambda/shared/settings.js";
import { flatten, synthConstruct } from "../support/cdk.js";

interface Widget {
  type: string;
  properties: {
    title: string;
    alarms?: string[];
    metrics?: unknown[][];
    annotations?: { horizontal: { value: number; label: string }[] };
  };
}

/** The dashboard's widgets, references shown as `${LogicalId}` / `${LogicalId.Attribute}`. */
function widgets(template: Template): Widget[] {
  const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
  return JSON.parse(flatten(dashboards[0]?.Properties.DashboardBody)).widgets;
}

const defaults = synthConstruct();
const t = defaults.template;
const configured = synthConstruct({
  timeout: Duration.seconds(60),
  eventQueueAgeThreshold: Duration.minutes(20),
});

function widget(title: string, template = t): Widget["properties"] {
  const found = widgets(template).find((w) => w.properties.title === title);
  if (!found) throw new Error(`no widget "${title}"`);
  return found.properties;
}
/** The metric names of a widget's plain metrics ([namespace, name, dimension, value, ..., options]). */
const metricNames = (title: string) => (widget(title).metrics ?? []).map((m) => `${m[0]}/${m[1]}`);
/** The expressions of a widget's SEARCH lines. */
const expressions = (title: string) =>
  (widget(title).metrics ?? []).map((m) => (m[0] as { expression?: string }).expression ?? "");
const search = (metricName: string, dimension: string, statistic: string) =>
  `SEARCH('{${METRICS_NAMESPACE},${METRIC_DIMENSIONS.service},${dimension}} MetricName="${metricName}" ` +
  `${METRIC_DIMENSIONS.service}="${SERVICE_NAME}"', '${statistic}', 300)`;
const own = (name: string) => `${METRICS_NAMESPACE}/${name}`;

describe("dashboard", () => {
  it("exists", () => {
    t.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });
  it("is exposed on the construct", () => {
    expect(defaults.discovery.dashboard.node.id).toBe("Dashboard");
  });
  it("shows the state of every alarm", () => {
    const alarmIds = Object.keys(t.findResources("AWS::CloudWatch::Alarm"));
    expect(widget("Alarms").alarms).toEqual(alarmIds.map((id) => `\${${id}.Arn}`));
  });
  it("graphs events applied and stale", () => {
    expect(metricNames("ECS events applied and stale")).toEqual([
      own(RUN_METRICS.eventsApplied),
      own(RUN_METRICS.eventsStale),
    ]);
  });
  it("graphs drift added and removed", () => {
    expect(metricNames("Drift found by reconciles (targets)")).toEqual([
      own(RUN_METRICS.driftTargetsAdded),
      own(RUN_METRICS.driftTargetsRemoved),
    ]);
  });
  it("graphs function errors, throttles and failed clusters", () => {
    expect(metricNames("Errors, throttles and failed clusters")).toEqual([
      "AWS/Lambda/Errors",
      "AWS/Lambda/Throttles",
      own(RUN_METRICS.clusterFailures),
    ]);
  });
  it("graphs targets per cluster with a SEARCH by cluster", () => {
    expect(expressions("Targets per cluster")).toEqual([
      search(CLUSTER_METRICS.targets, METRIC_DIMENSIONS.cluster, "Maximum"),
    ]);
  });
  it("graphs skipped containers per cluster with a SEARCH by cluster", () => {
    expect(expressions("Skipped containers per cluster")).toEqual([
      search(CLUSTER_METRICS.skippedContainers, METRIC_DIMENSIONS.cluster, "Maximum"),
    ]);
  });
  it("graphs skipped containers by reason with a SEARCH by reason", () => {
    expect(expressions("Skipped containers by reason")).toEqual([
      search(SKIPPED_BY_REASON_METRIC, METRIC_DIMENSIONS.reason, "Maximum"),
    ]);
  });
  it("graphs failed refreshes per cluster with a SEARCH by cluster", () => {
    expect(expressions("Failed refreshes per cluster")).toEqual([
      search(CLUSTER_METRICS.failed, METRIC_DIMENSIONS.cluster, "Sum"),
    ]);
  });
  it("graphs API calls by operation with a SEARCH by operation", () => {
    expect(expressions("API calls by operation")).toEqual([
      search(OPERATION_METRICS.calls, METRIC_DIMENSIONS.operation, "Sum"),
    ]);
  });
  it("graphs throttled API attempts by operation with a SEARCH by operation", () => {
    expect(expressions("Throttled API attempts by operation")).toEqual([
      search(OPERATION_METRICS.throttles, METRIC_DIMENSIONS.operation, "Sum"),
    ]);
  });
  it("labels each SEARCH line with its dimension's value", () => {
    const options = widget("Targets per cluster").metrics?.[0]?.[0] as { label?: string };
    expect(options.label).toBe(`\${PROP('Dim.${METRIC_DIMENSIONS.cluster}')}`);
  });
  it("graphs the function's average and maximum duration", () => {
    const lines = widget("Function duration (ms)").metrics ?? [];
    expect(lines.map((m) => [m[1], (m.at(-1) as { stat?: string }).stat ?? "Average"])).toEqual([
      ["Duration", "Average"],
      ["Duration", "Maximum"],
    ]);
  });
  it("marks the function's timeout on the duration graph", () => {
    expect(widget("Function duration (ms)").annotations?.horizontal).toContainEqual(
      expect.objectContaining({ value: 120_000, label: "timeout" }),
    );
    expect(widget("Function duration (ms)", configured.template).annotations?.horizontal).toContainEqual(
      expect.objectContaining({ value: 60_000, label: "timeout" }),
    );
  });
  it("graphs the event queue's oldest message and marks the alarm's threshold", () => {
    const title = "Event queue: age of the oldest message (s); dead-letter queue";
    expect(metricNames(title)).toEqual([
      "AWS/SQS/ApproximateAgeOfOldestMessage",
      "AWS/SQS/ApproximateNumberOfMessagesVisible",
    ]);
    expect(widget(title).metrics?.[0]?.[3]).toMatch(/^\$\{.*TaskEventQueue.*\.QueueName\}$/);
    expect(widget(title, configured.template).annotations?.horizontal).toContainEqual(
      expect.objectContaining({ value: 1200 }),
    );
  });
});
