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

/** The ECS task event rule (narrowed to `clusterArns` when there are any) and the reconcile schedule. */
export function buildRules(
  scope: Construct,
  clusterArns: readonly string[],
  reconcileIntervalMinutes: number,
): TriggerRules {
  const detail: Record<string, unknown> = {
    $or: [{ lastStatus: ["RUNNING", "STOPPED"] }, { desiredStatus: ["STOPPED"] }],
  };
  if (clusterArns.length > 0) detail.clusterArn = clusterArns;
  const taskEventRule = new events.Rule(scope, "TaskStateChangeRule", {
    description: "ECS task transitions that add or remove Prometheus targets",
    eventPattern: { source: ["aws.ecs"], detailType: ["ECS Task State Change"], detail },
  });
  const reconcileRule = new events.Rule(scope, "ReconcileSchedule", {
    description: "Full reconcile of the ECS targets",
    schedule: events.Schedule.rate(Duration.minutes(reconcileIntervalMinutes)),
  });
  return { taskEventRule, reconcileRule };
}

/**
 * Task events go through the queue to the function in batches; the schedule invokes the function itself.
 * Returns the UUID of the queue → function mapping (disabling it pauses the event path).
 */
export function connectTriggers(
  fn: lambda.IFunction,
  { taskEventRule, reconcileRule }: TriggerRules,
  { eventQueue, deadLetterQueue }: TriggerQueues,
  props: EcsDiscoveryProps,
  reconcileIntervalMinutes: number,
): { eventSourceMappingId: string } {
  taskEventRule.addTarget(
    new targets.SqsQueue(eventQueue, { deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(2) }),
  );
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
