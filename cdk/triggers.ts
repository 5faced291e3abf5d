import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { DEFAULTS, type EcsDiscoveryProps } from "./props.js";

export interface TriggerQueues {
  /** ECS events wait here to be handed to the function in batches. */
  readonly eventQueue: sqs.Queue;
  /** Events and scheduled reconciles that could not be processed. */
  readonly deadLetterQueue: sqs.Queue;
}

export interface TriggerRules {
  readonly taskEventRule: events.Rule;
  readonly reconcileRule: events.Rule;
  /** A hub's: the same task events, forwarded by member accounts to the hub's event bus. */
  readonly hubBusRule?: events.Rule;
}

/** The queue that coalesces event storms, and the dead-letter queue of every trigger. */
export function buildQueues(scope: Construct, functionTimeout: Duration): TriggerQueues {
  const deadLetterQueue = new sqs.Queue(scope, "DeadLetterQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const eventQueue = new sqs.Queue(scope, "TaskEventQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    // AWS guidance for SQS event sources: at least six times the function timeout.
    visibilityTimeout: Duration.seconds(functionTimeout.toSeconds() * 6),
    retentionPeriod: Duration.days(1),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 },
  });
  return { eventQueue, deadLetterQueue };
}

/**
 * The ECS task transitions that add or remove targets, of the clusters `clusterArns` matches (ARNs, or
 * EventBridge matchers such as `{ suffix: ":cluster/prod" }`) or of every cluster: the pattern of the hub's
 * rules and of each spoke's.
 */
export function taskEventPattern(clusterArns: readonly unknown[] = []): events.EventPattern {
  const detail: Record<string, unknown> = {
    $or: [{ lastStatus: ["RUNNING", "STOPPED"] }, { desiredStatus: ["STOPPED"] }],
  };
  if (clusterArns.length > 0) detail.clusterArn = clusterArns;
  return { source: ["aws.ecs"], detailType: ["ECS Task State Change"], detail };
}

/**
 * The ECS task event rule (narrowed to `clusterArns` when there are any), the reconcile schedule and, on a
 * hub, the rule of the hub's event bus. The bus rule is not narrowed to clusters: `clusterArns` name the
 * hub's own account, and each spoke narrows what it forwards.
 */
export function buildRules(
  scope: Construct,
  clusterArns: readonly string[],
  reconcileIntervalMinutes: number,
  hubBus?: events.IEventBus,
): TriggerRules {
  const taskEventRule = new events.Rule(scope, "TaskStateChangeRule", {
    description: "ECS task transitions that add or remove Prometheus targets",
    eventPattern: taskEventPattern(clusterArns),
  });
  const reconcileRule = new events.Rule(scope, "ReconcileSchedule", {
    description: "Full reconcile of the ECS targets",
    schedule: events.Schedule.rate(Duration.minutes(reconcileIntervalMinutes)),
  });
  if (hubBus === undefined) return { taskEventRule, reconcileRule };
  const hubBusRule = new events.Rule(scope, "HubTaskStateChangeRule", {
    description: "ECS task transitions of member accounts, forwarded by their spokes",
    eventBus: hubBus,
    eventPattern: taskEventPattern(),
  });
  return { taskEventRule, reconcileRule, hubBusRule };
}

/**
 * Task events go through the queue to the function in batches; the schedule invokes the function itself.
 * Returns the UUID of the queue → function mapping (disabling it pauses the event path).
 */
export function connectTriggers(
  fn: lambda.IFunction,
  { taskEventRule, reconcileRule, hubBusRule }: TriggerRules,
  { eventQueue, deadLetterQueue }: TriggerQueues,
  props: EcsDiscoveryProps,
  reconcileIntervalMinutes: number,
): { eventSourceMappingId: string } {
  for (const rule of hubBusRule ? [taskEventRule, hubBusRule] : [taskEventRule]) {
    rule.addTarget(
      new targets.SqsQueue(eventQueue, { deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(2) }),
    );
  }
  const eventSource = new SqsEventSource(eventQueue, {
    batchSize: props.eventBatchSize ?? DEFAULTS.eventBatchSize,
    maxBatchingWindow: props.eventBatchingWindow ?? Duration.seconds(DEFAULTS.eventBatchingWindowSeconds),
    maxConcurrency: props.eventMaxConcurrency ?? DEFAULTS.eventMaxConcurrency,
    reportBatchItemFailures: true,
  });
  fn.addEventSource(eventSource);
  reconcileRule.addTarget(
    new targets.LambdaFunction(fn, {
      deadLetterQueue,
      retryAttempts: 2,
      // A reconcile older than one interval is superseded by the next one.
      maxEventAge: Duration.minutes(Math.max(1, reconcileIntervalMinutes)),
    }),
  );
  return { eventSourceMappingId: eventSource.eventSourceMappingId };
}
