import { App, type CfnElement, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as sns from "aws-cdk-lib/aws-sns";
import { describe, expect, it } from "vitest";
import { EcsDiscovery } from "../../cdk/ecs-discovery-construct.js";
import { EcsDiscoveryStack } from "../../cdk/ecs-discovery-stack.js";
import { METRIC_DIMENSIONS, RUN_METRICS } from "../../lambda/shared/metric-names.js";
import { METRICS_NAMESPACE, SERVICE_NAME } from "../../lambda/shared/settings.js";
import { ACCOUNT, REGION, STUB_ENTRY, synthConstruct } from "../support/cdk.js";

const ALARM = "AWS::CloudWatch::Alarm";
const ONCALL_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:oncall`;

// Every default (a topic is created) ...
const defaults = synthConstruct();
const t = defaults.template;
// ... and other timeout, schedule and threshold, an existing topic and an e-mail address.
const configuredStack = new Stack(new App(), "Configured", { env: { account: ACCOUNT, region: REGION } });
new EcsDiscovery(configuredStack, "Discovery", {
  entry: STUB_ENTRY,
  timeout: Duration.seconds(60),
  reconcileInterval: Duration.minutes(10),
  reconcileMissingPeriods: 4,
  eventQueueAgeThreshold: Duration.minutes(20),
  alarmTopic: sns.Topic.fromTopicArn(configuredStack, "Oncall", ONCALL_ARN),
  alarmEmail: "oncall@example.com",
});
const c = Template.fromStack(configuredStack);

const service = [{ Name: METRIC_DIMENSIONS.service, Value: SERVICE_NAME }];
const ref = (pattern: string) => ({ Ref: Match.stringLikeRegexp(pattern) });
const queueName = (pattern: string) => [
  { Name: "QueueName", Value: { "Fn::GetAtt": [Match.stringLikeRegexp(pattern), "QueueName"] } },
];
const functionName = [{ Name: "FunctionName", Value: ref("Function") }];
/** Pins an assertion to one alarm: its description names its runbook section. */
const named = (name: string) => ({
  AlarmDescription: Match.stringLikeRegexp(`RUNBOOK\\.md → Alarm: ${name}$`),
});

interface AlarmSpec {
  readonly name: string;
  readonly field: keyof typeof defaults.discovery & `${string}Alarm`;
  readonly metric: Record<string, unknown>;
  readonly statistic: Record<string, unknown>;
  readonly threshold: Record<string, unknown>;
  readonly periods: Record<string, unknown>;
  readonly missingData: string;
}

/** Every alarm with defaults, as RUNBOOK.md → Alarms documents them. */
const SPECS: AlarmSpec[] = [
  {
    name: "FunctionErrors",
    field: "errorsAlarm",
    metric: { Namespace: "AWS/Lambda", MetricName: "Errors", Dimensions: functionName },
    statistic: { Statistic: "Sum", Period: 300 },
    threshold: { Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" },
    periods: { EvaluationPeriods: 3, DatapointsToAlarm: 2 },
    missingData: "notBreaching",
  },
  {
    name: "FunctionThrottles",
    field: "throttlesAlarm",
    metric: { Namespace: "AWS/Lambda", MetricName: "Throttles", Dimensions: functionName },
    statistic: { Statistic: "Sum", Period: 300 },
    threshold: { Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" },
    periods: { EvaluationPeriods: 3, DatapointsToAlarm: 2 },
    missingData: "notBreaching",
  },
  {
    name: "DurationNearTimeout",
    field: "durationAlarm",
    metric: { Namespace: "AWS/Lambda", MetricName: "Duration", Dimensions: functionName },
    statistic: { Statistic: "Maximum", Period: 300 },
    threshold: { Threshold: 96_000, ComparisonOperator: "GreaterThanOrEqualToThreshold" },
    periods: { EvaluationPeriods: 3, DatapointsToAlarm: 2 },
    missingData: "notBreaching",
  },
  {
    name: "DeadLetterQueue",
    field: "deadLetterAlarm",
    metric: {
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: queueName("DeadLetterQueue"),
    },
    statistic: { Statistic: "Maximum", Period: 300 },
    threshold: { Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" },
    periods: { EvaluationPeriods: 1 },
    missingData: "notBreaching",
  },
  {
    name: "EventQueueAge",
    field: "eventQueueAgeAlarm",
    metric: {
      Namespace: "AWS/SQS",
      MetricName: "ApproximateAgeOfOldestMessage",
      Dimensions: queueName("TaskEventQueue"),
    },
    statistic: { Statistic: "Maximum", Period: 60 },
    threshold: { Threshold: 900, ComparisonOperator: "GreaterThanOrEqualToThreshold" },
    periods: { EvaluationPeriods: 3, DatapointsToAlarm: 2 },
    missingData: "notBreaching",
  },
  {
    name: "ReconcileMissing",
    field: "reconcileMissingAlarm",
    metric: { Namespace: METRICS_NAMESPACE, MetricName: RUN_METRICS.reconcileSuccess, Dimensions: service },
    statistic: { Statistic: "Sum", Period: 300 },
    threshold: { Threshold: 1, ComparisonOperator: "LessThanThreshold" },
    periods: { EvaluationPeriods: 3 },
    missingData: "breaching",
  },
  {
    name: "RepeatedDrift",
    field: "driftAlarm",
    metric: {
      Metrics: [
        Match.objectLike({ Expression: "added + removed", ReturnData: true }),
        {
          Id: "added",
          MetricStat: {
            Metric: {
              Namespace: METRICS_NAMESPACE,
              MetricName: RUN_METRICS.driftTargetsAdded,
              Dimensions: service,
            },
            Period: 300,
            Stat: "Sum",
          },
          ReturnData: false,
        },
        {
          Id: "removed",
          MetricStat: {
            Metric: {
              Namespace: METRICS_NAMESPACE,
              MetricName: RUN_METRICS.driftTargetsRemoved,
              Dimensions: service,
            },
            Period: 300,
            Stat: "Sum",
          },
          ReturnData: false,
        },
      ],
    },
    statistic: {
      Metrics: Match.arrayWith(
        ["added", "removed"].map((Id) =>
          Match.objectLike({ Id, MetricStat: Match.objectLike({ Stat: "Sum", Period: 300 }) }),
        ),
      ),
    },
    threshold: { Threshold: 0, ComparisonOperator: "GreaterThanThreshold" },
    periods: { EvaluationPeriods: 6, DatapointsToAlarm: 3 },
    missingData: "notBreaching",
  },
  {
    name: "ClusterFailures",
    field: "clusterFailuresAlarm",
    metric: { Namespace: METRICS_NAMESPACE, MetricName: RUN_METRICS.clusterFailures, Dimensions: service },
    statistic: { Statistic: "Sum", Period: 300 },
    threshold: { Threshold: 1, ComparisonOperator: "GreaterThanOrEqualToThreshold" },
    periods: { EvaluationPeriods: 3, DatapointsToAlarm: 3 },
    missingData: "notBreaching",
  },
];

describe.each(SPECS)("Alarm: $name", (spec) => {
  it("reads its metric (namespace, name, dimensions)", () => {
    t.hasResourceProperties(ALARM, { ...named(spec.name), ...spec.metric });
  });
  it("uses its statistic and period", () => {
    t.hasResourceProperties(ALARM, { ...named(spec.name), ...spec.statistic });
  });
  it("compares with its threshold", () => {
    t.hasResourceProperties(ALARM, { ...named(spec.name), ...spec.threshold });
  });
  it("needs its number of breaching periods", () => {
    t.hasResourceProperties(ALARM, { ...named(spec.name), ...spec.periods });
  });
  it("treats missing data as documented", () => {
    t.hasResourceProperties(ALARM, { ...named(spec.name), TreatMissingData: spec.missingData });
  });
  it("notifies the alarm topic on ALARM", () => {
    t.hasResourceProperties(ALARM, { ...named(spec.name), AlarmActions: [ref("AlarmTopic")] });
  });
  it("notifies the alarm topic on OK", () => {
    t.hasResourceProperties(ALARM, { ...named(spec.name), OKActions: [ref("AlarmTopic")] });
  });
  it("notifies an existing topic instead, when one is given", () => {
    c.hasResourceProperties(ALARM, {
      ...named(spec.name),
      AlarmActions: [ONCALL_ARN],
      OKActions: [ONCALL_ARN],
    });
  });
  it("is exposed on the construct", () => {
    const alarm = defaults.discovery[spec.field];
    if (!alarm) throw new Error(`no ${spec.field} on the construct`);
    const id = defaults.stack.getLogicalId(alarm.node.defaultChild as CfnElement);
    expect(t.toJSON().Resources[id].Properties.AlarmDescription).toMatch(`Alarm: ${spec.name}`);
  });
});

describe("alarms", () => {
  it("are eight, each listed once on the construct (a ninth, AccountFailures, only with several accounts)", () => {
    t.resourceCountIs(ALARM, SPECS.length);
    expect(defaults.discovery.accountFailuresAlarm).toBeUndefined();
    expect(new Set(defaults.discovery.alarms).size).toBe(SPECS.length);
  });
  it("put the duration threshold at 80 % of the configured timeout", () => {
    c.hasResourceProperties(ALARM, { ...named("DurationNearTimeout"), Threshold: 48_000 });
  });
  it("take the event queue's age threshold", () => {
    c.hasResourceProperties(ALARM, { ...named("EventQueueAge"), Threshold: 1200 });
  });
  it("derive the default age threshold from the timeout: retry after six timeouts, one more to run, a minute", () => {
    const { template } = synthConstruct({ timeout: Duration.seconds(60) });
    template.hasResourceProperties(ALARM, { ...named("EventQueueAge"), Threshold: 480 });
  });
  it("follow reconcileInterval and reconcileMissingPeriods", () => {
    c.hasResourceProperties(ALARM, { ...named("ReconcileMissing"), Period: 600, EvaluationPeriods: 4 });
  });
  it("measure drift per reconcile interval", () => {
    c.hasResourceProperties(ALARM, {
      ...named("RepeatedDrift"),
      Metrics: Match.arrayWith([
        Match.objectLike({ Id: "added", MetricStat: Match.objectLike({ Period: 600 }) }),
      ]),
    });
  });
  it("count cluster failures per reconcile interval", () => {
    c.hasResourceProperties(ALARM, { ...named("ClusterFailures"), Period: 600 });
  });
});

describe("alarm topic", () => {
  it("is created by default", () => {
    t.resourceCountIs("AWS::SNS::Topic", 1);
  });
  it("accepts only TLS publishers", () => {
    t.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: "Deny",
            Action: "sns:Publish",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ],
      },
    });
  });
  it("is not created when an existing topic is given", () => {
    c.resourceCountIs("AWS::SNS::Topic", 0);
  });
  it("has no subscription by default", () => {
    t.resourceCountIs("AWS::SNS::Subscription", 0);
  });
  it("subscribes alarmEmail", () => {
    c.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "oncall@example.com",
      TopicArn: ONCALL_ARN,
    });
  });
  it("subscribes alarmEmail to the created topic", () => {
    const { template } = synthConstruct({ alarmEmail: "oncall@example.com" });
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      TopicArn: ref("AlarmTopic"),
    });
  });
  it("is the existing one of the stack's alarmTopicArn", () => {
    const app = new App();
    const stack = new EcsDiscoveryStack(app, "WithTopic", {
      env: { account: ACCOUNT, region: REGION },
      alarmTopicArn: ONCALL_ARN,
      discovery: { entry: STUB_ENTRY },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs("AWS::SNS::Topic", 0);
    template.hasResourceProperties(ALARM, { ...named("FunctionErrors"), AlarmActions: [ONCALL_ARN] });
    template.hasOutput("AlarmTopicArn", { Value: ONCALL_ARN });
  });
});

/** A stack of its own for `alarmTopicArn` checks (no bundling: the check throws first). */
function stackWithTopicArn(alarmTopicArn: string) {
  return new EcsDiscoveryStack(new App(), "Checked", {
    env: { account: ACCOUNT, region: REGION },
    alarmTopicArn,
    discovery: { entry: STUB_ENTRY },
  });
}

describe("alarmTopicArn", () => {
  it("must be an SNS topic ARN", () => {
    expect(() => stackWithTopicArn("oncall")).toThrow(/alarmTopicArn must be an SNS topic ARN.*got "oncall"/);
  });
  it("must be in the stack's region", () => {
    expect(() => stackWithTopicArn(`arn:aws:sns:us-east-1:${ACCOUNT}:oncall`)).toThrow(
      /in us-east-1, but alarms can only notify a topic of their own region \(eu-west-1\)/,
    );
  });
});
