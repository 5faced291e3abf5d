import { fileURLToPath } from "node:url";
import { AssetHashType, CfnOutput, Duration, type ILocalBundling, RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { IncludeItem } from "../lambda/shared/settings.js";
import { buildAlarms, notifyAlarmTopic } from "./alarms.js";
import { checkProps } from "./checks.js";
import { clusterArns } from "./ecs-arns.js";
import { buildFunctionRole, grantEngineAccess } from "./engine-policy.js";
import { bundleFunction, ENTRY_FILE } from "./function-code.js";
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
  readonly function: lambda.Function;
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
        memorySizeMb: props.memorySize ?? DEFAULTS.memorySize,
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
 * The function: the handler bundled as split ESM files (cdk/function-code.ts) for Node.js 24 on arm64,
 * logging JSON to its log group.
 */
function buildDiscoveryFunction(
  scope: Construct,
  props: EcsDiscoveryProps,
  { role, logGroup, deadLetterQueue, environment, logLevel, timeout }: DiscoveryFunctionParts,
): lambda.Function {
  return new lambda.Function(scope, "Function", {
    description: "Prometheus service discovery for ECS: writes file_sd JSON to S3",
    code: functionCode(props.entry ?? DEFAULT_ENTRY),
    handler: `${ENTRY_FILE.replace(/\.mjs$/, "")}.handler`,
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
    // NODE_OPTIONS (functionEnvironment): source maps for stack traces, heap limits from the memory size.
    environment,
    // Asynchronous invocations (the schedule) that still fail after Lambda's retries land in the DLQ.
    retryAttempts: 2,
    deadLetterQueue,
    ...(props.reservedConcurrency !== undefined
      ? { reservedConcurrentExecutions: props.reservedConcurrency }
      : {}),
  });
}

/**
 * The code asset, bundled on this machine with the esbuild the project installs (the app itself runs on
 * it through tsx), so a fresh clone synthesizes and deploys with no build step and no Docker. Hashed by
 * its output, like NodejsFunction's, so an unchanged bundle is not uploaded again.
 */
function functionCode(entry: string): lambda.Code {
  // `entry` is a property, not only in the closure: CDK's asset cache keys on the serialized options.
  const local: ILocalBundling & { entry: string } = {
    entry,
    tryBundle(outputDir: string): boolean {
      bundleFunction(entry, outputDir);
      return true;
    },
  };
  return lambda.Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    // The image is required by the type and never pulled: local bundling either succeeds or throws.
    bundling: { image: lambda.Runtime.NODEJS_24_X.bundlingImage, local },
  });
}
