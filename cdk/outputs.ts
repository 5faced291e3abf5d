import { CfnOutput, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";

/** What the outputs name: the parts of one deployment (an `EcsDiscovery`). */
export interface OutputSubjects {
  readonly bucket: s3.IBucket;
  readonly targetsPrefix: string;
  readonly function: lambda.IFunction;
  readonly sidecarPolicy: iam.ManagedPolicy;
  readonly resyncCommand: string;
  readonly logGroup: logs.ILogGroup;
  readonly deadLetterQueue: sqs.IQueue;
  readonly eventQueue: sqs.IQueue;
  readonly taskEventRule: events.IRule;
  readonly reconcileRule: events.IRule;
  readonly eventSourceMappingId: string;
  readonly alarmTopic: sns.ITopic;
  readonly dashboard: cloudwatch.Dashboard;
  /** A hub's event bus and its rule. */
  readonly hubEventBus?: events.IEventBus;
  readonly hubBusRule?: events.IRule;
  /** The function role's ARN, when it has its fixed name (a hub, or a writer to another region's bucket). */
  readonly hubFunctionRoleArn?: string;
}

/**
 * The stack outputs, by id. RUNBOOK.md reads them by these ids
 * (`--query "Stacks[0].Outputs[?OutputKey=='EventQueueUrl'].OutputValue"`): renaming one breaks it.
 */
export function addDiscoveryOutputs(scope: Construct, d: OutputSubjects): void {
  const output = (id: string, value: string, description: string, exportName?: string) =>
    new CfnOutput(scope, id, { value, description, ...(exportName ? { exportName } : {}) });
  output("BucketName", d.bucket.bucketName, "Bucket of the file_sd objects");
  output("TargetsPrefix", d.targetsPrefix, "Key prefix of the file_sd objects (the sidecar's prefix)");
  output("FunctionName", d.function.functionName, "Discovery function");
  output(
    "SidecarPolicyArn",
    d.sidecarPolicy.managedPolicyArn,
    "Managed policy to attach to the Prometheus/sidecar role (read-only on the targets prefix)",
    `${Stack.of(scope).stackName}-SidecarPolicyArn`,
  );
  output(
    "ResyncCommand",
    d.resyncCommand,
    "Force a full resync (the read timeout outlasts the function's, so the CLI never re-invokes)",
  );
  output("LogGroupName", d.logGroup.logGroupName, "The function's logs");
  output(
    "DeadLetterQueueUrl",
    d.deadLetterQueue.queueUrl,
    "Events and reconciles that could not be processed",
  );
  output("EventQueueName", d.eventQueue.queueName, "Queue of ECS task events waiting for the function");
  output("EventQueueUrl", d.eventQueue.queueUrl, "Queue of ECS task events waiting for the function");
  output("EventRuleName", d.taskEventRule.ruleName, "EventBridge rule of the ECS task state changes");
  output("ReconcileScheduleRuleName", d.reconcileRule.ruleName, "EventBridge schedule of the reconcile");
  output(
    "EventSourceMappingId",
    d.eventSourceMappingId,
    "UUID of the queue → function mapping: `aws lambda update-event-source-mapping --uuid <id> --no-enabled` pauses events",
  );
  output("AlarmTopicArn", d.alarmTopic.topicArn, "SNS topic of every alarm's ALARM and OK notifications");
  output("DashboardName", d.dashboard.dashboardName, "CloudWatch dashboard of this deployment");
  if (d.hubFunctionRoleArn !== undefined)
    output(
      "HubFunctionRoleArn",
      d.hubFunctionRoleArn,
      "The function's role: the principal spokes' reader roles trust (HubFunctionRoleArn), and a central bucket names",
    );
  if (d.hubEventBus !== undefined)
    output(
      "HubEventBusArn",
      d.hubEventBus.eventBusArn,
      "Event bus where member accounts' spokes forward ECS task events (HubEventBusName: its last part)",
    );
  if (d.hubBusRule !== undefined)
    output(
      "HubEventRuleName",
      d.hubBusRule.ruleName,
      "EventBridge rule of the hub bus's ECS task state changes",
    );
}
