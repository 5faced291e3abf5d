import { fileURLToPath } from "node:url";
import { AssetHashType, Duration, type ILocalBundling, RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { IncludeItem } from "../lambda/shared/settings.js";
import { buildHubEventBus, grantAssumeReaderRoles } from "./accounts.js";
import { buildAlarmTopic } from "./alarm-topic.js";
import { alarmList, buildAlarms, notifyAlarmTopic } from "./alarms.js";
import { allowBucketWriters } from "./central-bucket.js";
import { checkProps } from "./checks.js";
import { buildDashboard } from "./dashboard.js";
import { clusterArns } from "./ecs-arns.js";
import { buildFunctionRole, grantEngineAccess } from "./engine-policy.js";
import { bundleFunction, ENTRY_FILE } from "./function-code.js";
import { functionEnvironment, includeOf } from "./function-environment.js";
import { acknowledgeNagFindings } from "./nag-acknowledgements.js";
import { addDiscoveryOutputs } from "./outputs.js";
import { DEFAULTS, type EcsDiscoveryProps } from "./props.js";
import { buildSidecarPolicy, grantTargetsRead } from "./sidecar-access.js";
import { buildTargetsBucket } from "./targets-bucket.js";
import { buildQueues, buildRules, connectTriggers } from "./triggers.js";

export { METRICS_NAMESPACE, SERVICE_NAME } from "../lambda/shared/settings.js";
export { DEFAULTS, type EcsDiscoveryProps, type LabelNameProps, type SelectorProps } from "./props.js";

/** The payload of a forced resync (`aws lambda invoke --payload ...`). */
export const RESYNC_PAYLOAD = '{"action":"resync"}';

/** Lambda's longest maximum event age for asynchronous invocations. */
const MAX_EVENT_AGE_MINUTES = 6 * 60;

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
  /** A hub's event bus (`prometheus-ecs-discovery`), where member accounts' spokes forward ECS task events. */
  readonly hubEventBus?: events.EventBus;
  /** A hub's rule on its event bus, feeding the same queue as `taskEventRule`. */
  readonly hubBusRule?: events.Rule;
  /**
   * The function role's ARN when it has its fixed name, `prometheus-ecs-discovery-hub-{region}`: on a hub (its
   * spokes trust it) and when it writes to another region's bucket (whose policy names it).
   */
  readonly hubFunctionRoleArn?: string;
  /** Read-only access to the file_sd objects, for the sidecar's role. */
  readonly sidecarPolicy: iam.ManagedPolicy;
  /** UUID of the event queue → function mapping (disable it to pause the event path). */
  readonly eventSourceMappingId: string;
  /** The topic every alarm notifies on ALARM and on OK: `alarmTopic`, or one created here. */
  readonly alarmTopic: sns.ITopic;
  /** Lambda `Errors` (uncaught errors, timeouts). RUNBOOK.md → Alarm: FunctionErrors. */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** Lambda `Throttles`. RUNBOOK.md → Alarm: FunctionThrottles. */
  readonly throttlesAlarm: cloudwatch.Alarm;
  /** Maximum `Duration` near the timeout. RUNBOOK.md → Alarm: DurationNearTimeout. */
  readonly durationAlarm: cloudwatch.Alarm;
  /** The dead-letter queue is not empty. RUNBOOK.md → Alarm: DeadLetterQueue. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** The event queue's oldest message is old: the event path is stuck. RUNBOOK.md → Alarm: EventQueueAge. */
  readonly eventQueueAgeAlarm: cloudwatch.Alarm;
  /** No fully successful reconcile. RUNBOOK.md → Alarm: ReconcileMissing. */
  readonly reconcileMissingAlarm: cloudwatch.Alarm;
  /** Reconciles keep finding drift. RUNBOOK.md → Alarm: RepeatedDrift. */
  readonly driftAlarm: cloudwatch.Alarm;
  /** A cluster fails reconcile after reconcile. RUNBOOK.md → Alarm: ClusterFailures. */
  readonly clusterFailuresAlarm: cloudwatch.Alarm;
  /** Several accounts only: an account that fails repeatedly. */
  readonly accountFailuresAlarm?: cloudwatch.Alarm;
  /** Every alarm above, in the runbook's order. */
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;
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
    const checked = checkProps(stack, props);
    const { hub, bucketLayout } = checked;
    this.targetsPrefix = checked.targetsPrefix;
    this.statePrefix = checked.statePrefix;
    this.clusterArns = clusterArns(stack, props.clusters ?? []);
    this.include = includeOf(props);
    const { timeout } = checked;
    const logLevel = props.logLevel ?? DEFAULTS.logLevel;

    // ---- build --------------------------------------------------------------------------------------------
    this.bucket = buildTargetsBucket(this, props);
    if (this.bucket instanceof s3.Bucket && bucketLayout.writers.length > 0)
      allowBucketWriters(this.bucket, bucketLayout.writers, checked);
    const targetObjects = { bucket: this.bucket, targetsPrefix: this.targetsPrefix };
    const queues = buildQueues(this, timeout);
    this.eventQueue = queues.eventQueue;
    this.deadLetterQueue = queues.deadLetterQueue;
    this.logGroup = new logs.LogGroup(this, "LogGroup", {
      retention: props.logRetention ?? DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = buildFunctionRole(this, this.logGroup, checked.functionRoleName);
    if (checked.functionRoleName !== undefined) this.hubFunctionRoleArn = role.roleArn;
    const environment = functionEnvironment(
      {
        bucketName: this.bucket.bucketName,
        targetsPrefix: this.targetsPrefix,
        statePrefix: this.statePrefix,
        logLevel,
        memorySizeMb: props.memorySize ?? DEFAULTS.memorySize,
        ...(props.existingBucketRegion ? { bucketRegion: props.existingBucketRegion } : {}),
      },
      { ...checked.discoveryVariables, ...hub.environment },
    );
    this.function = buildDiscoveryFunction(this, props, {
      role,
      environment,
      logLevel,
      timeout,
      logGroup: this.logGroup,
      deadLetterQueue: this.deadLetterQueue,
      reconcileIntervalMinutes: checked.reconcileIntervalMinutes,
    });
    this.hubEventBus = hub.isHub ? buildHubEventBus(this, hub) : undefined;
    const rules = buildRules(this, this.clusterArns, checked.reconcileIntervalMinutes, this.hubEventBus);
    this.taskEventRule = rules.taskEventRule;
    this.reconcileRule = rules.reconcileRule;
    this.hubBusRule = rules.hubBusRule;
    this.sidecarPolicy = buildSidecarPolicy(this, targetObjects);
    this.alarmTopic = buildAlarmTopic(this, props);
    const monitored = {
      fn: this.function,
      timeout,
      eventQueue: this.eventQueue,
      deadLetterQueue: this.deadLetterQueue,
      reconcileIntervalMinutes: checked.reconcileIntervalMinutes,
      eventQueueAgeThresholdSeconds: checked.eventQueueAgeThresholdSeconds,
    };
    const alarms = buildAlarms(this, {
      ...monitored,
      reconcileMissingPeriods: checked.reconcileMissingPeriods,
      severalAccounts: hub.accounts.length > 0,
    });
    this.errorsAlarm = alarms.errorsAlarm;
    this.throttlesAlarm = alarms.throttlesAlarm;
    this.durationAlarm = alarms.durationAlarm;
    this.deadLetterAlarm = alarms.deadLetterAlarm;
    this.eventQueueAgeAlarm = alarms.eventQueueAgeAlarm;
    this.reconcileMissingAlarm = alarms.reconcileMissingAlarm;
    this.driftAlarm = alarms.driftAlarm;
    this.clusterFailuresAlarm = alarms.clusterFailuresAlarm;
    this.accountFailuresAlarm = alarms.accountFailuresAlarm;
    this.alarms = alarmList(alarms);
    this.dashboard = buildDashboard(this, {
      ...monitored,
      alarms: this.alarms,
      severalAccounts: hub.accounts.length > 0,
    });
    this.resyncCommand = resyncCommand(stack.region, this.function.functionName, timeout);

    // ---- wire ---------------------------------------------------------------------------------------------
    const wildcards = grantEngineAccess(role, {
      ...targetObjects,
      statePrefix: this.statePrefix,
      clusters: props.clusters ?? [],
      clusterArns: this.clusterArns,
      includeServices: this.include.includes("SERVICES"),
      keyAccounts: hub.keyAccounts,
      region: stack.region,
    });
    wildcards.push(...grantAssumeReaderRoles(role, hub));
    const mapping = connectTriggers(this.function, rules, queues, props, checked.reconcileIntervalMinutes);
    this.eventSourceMappingId = mapping.eventSourceMappingId;
    notifyAlarmTopic(alarms, this.alarmTopic);
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

  /**
   * Adds stack outputs: bucket, prefix, function, sidecar policy, resync command, log group, queues, rules,
   * event source mapping, alarm topic and dashboard (ids in cdk/outputs.ts; RUNBOOK.md reads them).
   */
  addOutputs(scope: Construct = this): void {
    addDiscoveryOutputs(scope, this);
  }
}

/** How much longer than the function's timeout the CLI waits for a synchronous invoke's answer. */
const CLI_READ_TIMEOUT_MARGIN_SECONDS = 60;

/**
 * The shell command that invokes a forced resync of `functionName` and prints its summary. The CLI's read
 * timeout (60 s by default) must outlast the function's: otherwise the CLI gives up on a long resync and
 * retries, invoking the function again.
 */
function resyncCommand(region: string, functionName: string, timeout: Duration): string {
  return [
    "aws lambda invoke",
    `--region ${region}`,
    `--function-name ${functionName}`,
    `--cli-read-timeout ${timeout.toSeconds() + CLI_READ_TIMEOUT_MARGIN_SECONDS}`,
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
  readonly reconcileIntervalMinutes: number;
}

/**
 * The function: the handler bundled as split ESM files (cdk/function-code.ts) for Node.js 24 on arm64,
 * logging JSON to its log group.
 */
function buildDiscoveryFunction(
  scope: Construct,
  props: EcsDiscoveryProps,
  {
    role,
    logGroup,
    deadLetterQueue,
    environment,
    logLevel,
    timeout,
    reconcileIntervalMinutes,
  }: DiscoveryFunctionParts,
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
    // Asynchronous invocations (the schedule, `--invocation-type Event`): retried twice, dropped once the next
    // reconcile is due (a reconcile is stale by then; at most Lambda's 6 h), and dead-lettered if still failing.
    retryAttempts: 2,
    maxEventAge: Duration.minutes(Math.min(reconcileIntervalMinutes, MAX_EVENT_AGE_MINUTES)),
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
