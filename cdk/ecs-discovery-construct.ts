import { fileURLToPath } from "node:url";
import { CfnOutput, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { IncludeItem } from "../lambda/shared/settings.js";
import { buildAlarms, notifyAlarmTopic } from "./alarms.js";
import { checkProps } from "./checks.js";
import { clusterArns } from "./ecs-arns.js";
import { buildFunctionRole, grantEngineAccess } from "./engine-policy.js";
import { functionEnvironment, includeOf } from "./function-environment.js";
import { acknowledgeNagFindings } from "./nag-acknowledgements.js";
import { DEFAULTS, type EcsDiscoveryProps } from "./props.js";
import { buildSidecarPolicy, grantTargetsRead } from "./sidecar-access.js";
import { buildTargetsBucket } from "./targets-bucket.js";
import { buildQueues, buildRules, connectTriggers } from "./triggers.js";

export { METRICS_NAMESPACE, SERVICE_NAME } from "../lambda/shared/settings.js";
export { DEFAULTS, type EcsDiscoveryProps, type LabelNameProps, type SelectorProps } from "./props.js";

/** The payload of a forced resync (`aws lambda invoke --payload ...`). */
export const RESYNC_PAYLOAD = '{"action":"resync"}';

const DEFAULT_ENTRY = fileURLToPath(new URL("../lambda/handler.ts", import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Event-driven Prometheus service discovery for the ECS clusters of one region: a function that writes
 * file_sd JSON objects to S3, triggered by ECS task state changes (through a queue that coalesces storms),
 * by a schedule (full reconcile) and by hand (forced resync).
 */
export class EcsDiscovery extends Construct {
  readonly bucket: s3.IBucket;
  readonly targetsPrefix: string;
  readonly statePrefix: string;
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly eventQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly taskEventRule: events.Rule;
  readonly reconcileRule: events.Rule;
  /** Read-only access to the file_sd objects, for the sidecar's role. */
  readonly sidecarPolicy: iam.ManagedPolicy;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly reconcileMissingAlarm: cloudwatch.Alarm;
  /** The shell command that forces a resync and prints its summary. */
  readonly resyncCommand: string;
  /** Cluster ARNs from `clusters` (empty when every cluster is discovered). */
  readonly clusterArns: string[];
  /** What `INCLUDE` lists (the `include` prop, with the deprecated `includeTags` folded in). */
  readonly include: IncludeItem[];

  constructor(scope: Construct, id: string, props: EcsDiscoveryProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);

    // ---- check: every prop, before anything is built -----------------------------------------------------
    const checked = checkProps(props);
    this.targetsPrefix = checked.targetsPrefix;
    this.statePrefix = checked.statePrefix;
    this.clusterArns = clusterArns(stack, props.clusters ?? []);
    this.include = includeOf(props);
    const timeout = props.timeout ?? Duration.seconds(DEFAULTS.timeoutSeconds);
    const logLevel = props.logLevel ?? DEFAULTS.logLevel;

    // ---- build --------------------------------------------------------------------------------------------
    this.bucket = buildTargetsBucket(this, props);
    const targetObjects = { bucket: this.bucket, targetsPrefix: this.targetsPrefix };
    const queues = buildQueues(this, timeout);
    this.eventQueue = queues.eventQueue;
    this.deadLetterQueue = queues.deadLetterQueue;
    this.logGroup = new logs.LogGroup(this, "LogGroup", {
      retention: props.logRetention ?? DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = buildFunctionRole(this, this.logGroup);
    const environment = functionEnvironment(
      {
        bucketName: this.bucket.bucketName,
        targetsPrefix: this.targetsPrefix,
        statePrefix: this.statePrefix,
        logLevel,
      },
      checked.discoveryVariables,
    );
    this.function = buildDiscoveryFunction(this, props, {
      role,
      environment,
      logLevel,
      timeout,
      logGroup: this.logGroup,
      deadLetterQueue: this.deadLetterQueue,
    });
    const rules = buildRules(this, this.clusterArns, checked.reconcileIntervalMinutes);
    this.taskEventRule = rules.taskEventRule;
    this.reconcileRule = rules.reconcileRule;
    this.sidecarPolicy = buildSidecarPolicy(this, targetObjects);
    const alarms = buildAlarms(this, {
      fn: this.function,
      deadLetterQueue: this.deadLetterQueue,
      reconcileIntervalMinutes: checked.reconcileIntervalMinutes,
      reconcileMissingPeriods: checked.reconcileMissingPeriods,
    });
    this.errorsAlarm = alarms.errorsAlarm;
    this.deadLetterAlarm = alarms.deadLetterAlarm;
    this.reconcileMissingAlarm = alarms.reconcileMissingAlarm;
    this.resyncCommand = resyncCommand(stack.region, this.function.functionName);

    // ---- wire ---------------------------------------------------------------------------------------------
    const wildcards = grantEngineAccess(role, {
      ...targetObjects,
      statePrefix: this.statePrefix,
      clusters: props.clusters ?? [],
      clusterArns: this.clusterArns,
      includeServices: this.include.includes("SERVICES"),
    });
    connectTriggers(this.function, rules, queues, props, checked.reconcileIntervalMinutes);
    if (props.alarmTopic) notifyAlarmTopic(alarms, props.alarmTopic);
    acknowledgeNagFindings({
      ...targetObjects,
      accessLogsBucket: props.accessLogsBucket,
      role,
      wildcards,
      sidecarPolicy: this.sidecarPolicy,
      fn: this.function,
    });
  }

  /** Grants read-only access to the file_sd objects (what the sidecar needs) to `grantee`. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    return grantTargetsRead(grantee, this);
  }

  /** Adds stack outputs: bucket, prefix, function, sidecar policy, resync command, log group, dead-letter queue. */
  addOutputs(scope: Construct = this): void {
    new CfnOutput(scope, "BucketName", {
      value: this.bucket.bucketName,
      description: "Bucket of the file_sd objects",
    });
    new CfnOutput(scope, "TargetsPrefix", {
      value: this.targetsPrefix,
      description: "Key prefix of the file_sd objects (the sidecar's prefix)",
    });
    new CfnOutput(scope, "FunctionName", {
      value: this.function.functionName,
      description: "Discovery function",
    });
    new CfnOutput(scope, "SidecarPolicyArn", {
      value: this.sidecarPolicy.managedPolicyArn,
      description:
        "Managed policy to attach to the Prometheus/sidecar role (read-only on the targets prefix)",
      exportName: `${Stack.of(this).stackName}-SidecarPolicyArn`,
    });
    new CfnOutput(scope, "ResyncCommand", { value: this.resyncCommand, description: "Force a full resync" });
    new CfnOutput(scope, "LogGroupName", {
      value: this.logGroup.logGroupName,
      description: "The function's logs",
    });
    new CfnOutput(scope, "DeadLetterQueueUrl", {
      value: this.deadLetterQueue.queueUrl,
      description: "Events and reconciles that could not be processed",
    });
  }
}

/** The shell command that invokes a forced resync of `functionName` and prints its summary. */
function resyncCommand(region: string, functionName: string): string {
  return [
    "aws lambda invoke",
    `--region ${region}`,
    `--function-name ${functionName}`,
    "--cli-binary-format raw-in-base64-out",
    `--payload '${RESYNC_PAYLOAD}'`,
    "/dev/stdout",
  ].join(" ");
}

interface DiscoveryFunctionParts {
  readonly role: iam.Role;
  readonly logGroup: logs.ILogGroup;
  readonly deadLetterQueue: sqs.IQueue;
  readonly environment: Record<string, string>;
  readonly logLevel: keyof typeof lambda.ApplicationLogLevel;
  readonly timeout: Duration;
}

/**
 * The function: the handler bundled as one ESM file for Node.js 22 on arm64, logging JSON to its log group.
 * Kept in this file because test/bench/bundle.ts reads the bundling options (mainFields) from its source.
 */
function buildDiscoveryFunction(
  scope: Construct,
  props: EcsDiscoveryProps,
  { role, logGroup, deadLetterQueue, environment, logLevel, timeout }: DiscoveryFunctionParts,
): nodejs.NodejsFunction {
  return new nodejs.NodejsFunction(scope, "Function", {
    description: "Prometheus service discovery for ECS: writes file_sd JSON to S3",
    entry: props.entry ?? DEFAULT_ENTRY,
    handler: "handler",
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: fileURLToPath(new URL("../package-lock.json", import.meta.url)),
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize ?? DEFAULTS.memorySize,
    timeout,
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    // With JSON logging Lambda drops lines below this level, Powertools' lines included: keep both in step.
    applicationLogLevelV2: lambda.ApplicationLogLevel[logLevel],
    systemLogLevelV2: lambda.SystemLogLevel.INFO,
    environment,
    // Asynchronous invocations (the schedule) that still fail after Lambda's retries land in the DLQ.
    retryAttempts: 2,
    deadLetterQueue,
    ...(props.reservedConcurrency !== undefined
      ? { reservedConcurrentExecutions: props.reservedConcurrency }
      : {}),
    bundling: {
      format: nodejs.OutputFormat.ESM,
      target: "node24",
      platform: "node",
      minify: true,
      sourceMap: true,
      sourceMapMode: nodejs.SourceMapMode.DEFAULT,
      bundleAwsSDK: true,
      externalModules: [],
      mainFields: ["module", "main"],
      // Bundled CommonJS dependencies call require(); give the ESM bundle one.
      banner: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
      forceDockerBundling: false,
    },
  });
}
