import { fileURLToPath } from "node:url";
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

/** Docker label names the function reads; each defaults to the old poller's name. */
export interface LabelNameProps {
  /** @default "PROMETHEUS_EXPORTER_PORT" */
  readonly port?: string;
  /** @default "PROMETHEUS_EXPORTER_PATH" */
  readonly path?: string;
  /** @default "PROMETHEUS_EXPORTER_SCHEME" */
  readonly scheme?: string;
  /** @default "PROMETHEUS_EXPORTER_JOB_NAME" */
  readonly jobName?: string;
  /** @default "PROMETHEUS_EXPORTER_SERVER_NAME" */
  readonly serverName?: string;
  /** @default "PROMETHEUS_EXPORTER_INTERVAL" */
  readonly interval?: string;
  /** @default "PROMETHEUS_EXPORTER_TIMEOUT" */
  readonly timeout?: string;
  /** @default "PROMETHEUS_DYNAMIC_EXPORT" */
  readonly dynamicExport?: string;
}

/**
 * Makes containers targets without docker labels. Patterns are regular expressions that must match the whole
 * name; at least one of `family` and `service` is required.
 */
export interface SelectorProps {
  readonly family?: string;
  readonly service?: string;
  readonly container?: string;
  readonly port: number;
  readonly path?: string;
  readonly scheme?: "http" | "https";
  readonly job?: string;
}

export interface EcsDiscoveryProps {
  /**
   * ECS cluster names or ARNs to discover. Also narrows the ECS event rule and the IAM policy to these
   * clusters.
   * @default - every cluster of the region
   */
  readonly clusters?: string[];
  /** Docker label names (for task definitions that use other names than the old poller's). @default - the old poller's names */
  readonly labels?: LabelNameProps;
  /** Only containers carrying this docker label (`NAME`, or `NAME=VALUE`) are considered. @default - no filter */
  readonly filterLabel?: string;
  /** Selectors for containers whose task definitions cannot carry labels. @default - none */
  readonly selectors?: SelectorProps[];
  /** Publish the tasks' tags as labels (`INCLUDE=TAGS`). @default false */
  readonly includeTags?: boolean;
  /**
   * Name of an existing bucket to write to instead of creating one (for example one bucket shared by every
   * region: keys carry account and region, so regions never collide). The stack then manages no bucket
   * settings; versioning, encryption and TLS enforcement are the owner's job.
   * @default - a bucket is created
   */
  readonly existingBucketName?: string;
  /** Bucket for S3 server access logs of the created bucket. @default - no access logging (acknowledged in cdk-nag) */
  readonly accessLogsBucket?: s3.IBucket;
  /** Days a replaced or deleted version of a target object is kept. @default 30 */
  readonly noncurrentVersionRetentionDays?: number;
  /** Removal policy of the created bucket. @default RemovalPolicy.RETAIN */
  readonly bucketRemovalPolicy?: RemovalPolicy;
  /** Key prefix of the file_sd objects; the sidecar reads this. @default "targets/" */
  readonly targetsPrefix?: string;
  /** Key prefix of the function's own state objects; must not lie inside `targetsPrefix`. @default "state/" */
  readonly statePrefix?: string;
  /** How often the full reconcile runs; whole minutes. @default Duration.minutes(5) */
  readonly reconcileInterval?: Duration;
  /** Alarm when this many reconcile intervals in a row had no fully successful reconcile. @default 3 */
  readonly reconcileMissingPeriods?: number;
  /** Powertools log level: DEBUG, INFO, WARN or ERROR. @default "INFO" */
  readonly logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Alarm and OK notifications go to this topic. @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
  /** Function memory in MB. @default 512 */
  readonly memorySize?: number;
  /** Function timeout. @default Duration.minutes(2) */
  readonly timeout?: Duration;
  /** Clusters discovered at once and describe batches in flight per cluster (`MAX_CONCURRENCY`). @default 8 */
  readonly apiConcurrency?: number;
  /** SDK attempts per AWS call, adaptive retry (`MAX_ATTEMPTS`). @default 6 */
  readonly maxAttempts?: number;
  /**
   * Churn guard (`CHURN_GUARD_PERCENT`): a reconcile that would remove more than this share of a cluster's
   * tasks without stop events waits for the next reconcile to confirm. @default - the engine's default, 50
   */
  readonly churnGuardPercent?: number;
  /** Most ECS events handed to one invocation. @default 1000 */
  readonly eventBatchSize?: number;
  /** How long the queue gathers events before invoking the function. @default Duration.seconds(5) */
  readonly eventBatchingWindow?: Duration;
  /** Most concurrent invocations the event queue drives (2 is the Lambda minimum). @default 2 */
  readonly eventMaxConcurrency?: number;
  /** Reserved concurrency of the function, an upper bound over all triggers. @default - none (unreserved) */
  readonly reservedConcurrency?: number;
  /** Path of the handler source. @default - `lambda/handler.ts` of this repository */
  readonly entry?: string;
}

export const DEFAULTS = {
  targetsPrefix: "targets/",
  statePrefix: "state/",
  reconcileIntervalMinutes: 5,
  reconcileMissingPeriods: 3,
  logLevel: "INFO",
  logRetention: logs.RetentionDays.ONE_MONTH,
  memorySize: 512,
  timeoutSeconds: 120,
  noncurrentVersionRetentionDays: 30,
  apiConcurrency: 8,
  maxAttempts: 6,
  eventBatchSize: 1000,
  eventBatchingWindowSeconds: 5,
  eventMaxConcurrency: 2,
} as const;

export const SERVICE_NAME = "prometheus-ecs-discovery";
export const METRICS_NAMESPACE = "PrometheusEcsDiscovery";

const LABEL_ENV: Record<keyof LabelNameProps, string> = {
  port: "PORT_LABEL",
  path: "PATH_LABEL",
  scheme: "SCHEME_LABEL",
  jobName: "JOB_NAME_LABEL",
  serverName: "SERVER_NAME_LABEL",
  interval: "INTERVAL_LABEL",
  timeout: "TIMEOUT_LABEL",
  dynamicExport: "DYNAMIC_EXPORT_LABEL",
};

/** The payload of a forced resync (`aws lambda invoke --payload ...`). */
export const RESYNC_PAYLOAD = '{"action":"resync"}';

const DEFAULT_ENTRY = fileURLToPath(new URL("../lambda/handler.ts", import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

function checkPrefix(name: string, value: string): void {
  if (Token.isUnresolved(value)) throw new Error(`${name} must be a plain string, not a token`);
  if (value !== "" && !value.endsWith("/"))
    throw new Error(`${name} must be empty or end with "/", got "${value}"`);
  if (value.startsWith("/") || value.includes("..") || /[\s\\*?]/.test(value)) {
    throw new Error(`${name} must be an S3 key prefix without a leading "/", "..", spaces, "*", "?" or "\\"`);
  }
}

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

  constructor(scope: Construct, id: string, props: EcsDiscoveryProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);

    this.targetsPrefix = props.targetsPrefix ?? DEFAULTS.targetsPrefix;
    this.statePrefix = props.statePrefix ?? DEFAULTS.statePrefix;
    checkPrefix("targetsPrefix", this.targetsPrefix);
    checkPrefix("statePrefix", this.statePrefix);
    if (this.targetsPrefix === "" || this.statePrefix === "") {
      throw new Error(
        "targetsPrefix and statePrefix must both be non-empty so that state stays unreadable to the sidecar",
      );
    }
    if (this.statePrefix.startsWith(this.targetsPrefix) || this.targetsPrefix.startsWith(this.statePrefix)) {
      throw new Error(
        `statePrefix "${this.statePrefix}" and targetsPrefix "${this.targetsPrefix}" must not overlap`,
      );
    }

    const intervalMinutes = (
      props.reconcileInterval ?? Duration.minutes(DEFAULTS.reconcileIntervalMinutes)
    ).toMinutes();
    if (!Number.isInteger(intervalMinutes) || intervalMinutes < 1) {
      throw new Error("reconcileInterval must be a whole number of minutes");
    }
    const missingPeriods = props.reconcileMissingPeriods ?? DEFAULTS.reconcileMissingPeriods;
    if (
      !Number.isInteger(missingPeriods) ||
      missingPeriods < 1 ||
      missingPeriods * intervalMinutes > 24 * 60
    ) {
      throw new Error(
        "reconcileMissingPeriods must be a whole number ≥ 1, and periods × interval at most one day",
      );
    }

    this.clusterArns = (props.clusters ?? []).map((c) =>
      c.startsWith("arn:")
        ? c
        : stack.formatArn({
            service: "ecs",
            resource: "cluster",
            resourceName: c,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          }),
    );

    // ---- bucket -------------------------------------------------------------------------------------------
    if (props.existingBucketName !== undefined) {
      this.bucket = s3.Bucket.fromBucketName(this, "TargetsBucket", props.existingBucketName);
    } else {
      const bucket = new s3.Bucket(this, "TargetsBucket", {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        versioned: true,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removalPolicy: props.bucketRemovalPolicy ?? RemovalPolicy.RETAIN,
        lifecycleRules: [
          {
            id: "expire-old-versions",
            noncurrentVersionExpiration: Duration.days(
              props.noncurrentVersionRetentionDays ?? DEFAULTS.noncurrentVersionRetentionDays,
            ),
            expiredObjectDeleteMarker: true,
            abortIncompleteMultipartUploadAfter: Duration.days(1),
          },
        ],
        ...(props.accessLogsBucket
          ? {
              serverAccessLogsBucket: props.accessLogsBucket,
              serverAccessLogsPrefix: "prometheus-ecs-discovery/",
            }
          : {}),
      });
      if (!props.accessLogsBucket) {
        Validations.of(bucket).acknowledge({
          id: "AwsSolutions-S1",
          reason:
            "Only this stack's function writes here and only readers granted the sidecar policy read; S3 data events " +
            "in CloudTrail cover auditing where needed. Pass accessLogsBucket to turn server access logs on.",
        });
      }
      this.bucket = bucket;
    }

    // ---- queues ---------------------------------------------------------------------------------------------
    const timeout = props.timeout ?? Duration.seconds(DEFAULTS.timeoutSeconds);
    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.eventQueue = new sqs.Queue(this, "TaskEventQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS guidance for SQS event sources: at least six times the function timeout.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    // ---- function -------------------------------------------------------------------------------------------
    this.logGroup = new logs.LogGroup(this, "LogGroup", {
      retention: props.logRetention ?? DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, "FunctionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "prometheus-ecs-discovery: ECS/EC2 read, S3 write under the targets and state prefixes",
    });
    // Written out instead of AWSLambdaBasicExecutionRole, which allows every log group of the account.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "WriteOwnLogs",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const logLevel = props.logLevel ?? DEFAULTS.logLevel;
    const environment: Record<string, string> = {
      TARGETS_BUCKET: this.bucket.bucketName,
      TARGETS_PREFIX: this.targetsPrefix,
      STATE_PREFIX: this.statePrefix,
      MAX_CONCURRENCY: String(props.apiConcurrency ?? DEFAULTS.apiConcurrency),
      MAX_ATTEMPTS: String(props.maxAttempts ?? DEFAULTS.maxAttempts),
      POWERTOOLS_LOG_LEVEL: logLevel,
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      NODE_OPTIONS: "--enable-source-maps",
    };
    if (props.clusters && props.clusters.length > 0) environment.CLUSTERS = props.clusters.join(",");
    for (const [key, variable] of Object.entries(LABEL_ENV) as [keyof LabelNameProps, string][]) {
      const value = props.labels?.[key];
      if (value !== undefined) environment[variable] = value;
    }
    if (props.filterLabel !== undefined) environment.FILTER_LABEL = props.filterLabel;
    if (props.selectors && props.selectors.length > 0)
      environment.SELECTORS = JSON.stringify(props.selectors);
    if (props.includeTags) environment.INCLUDE = "TAGS";
    if (props.churnGuardPercent !== undefined)
      environment.CHURN_GUARD_PERCENT = String(props.churnGuardPercent);

    this.function = new nodejs.NodejsFunction(this, "Function", {
      description: "Prometheus service discovery for ECS: writes file_sd JSON to S3",
      entry: props.entry ?? DEFAULT_ENTRY,
      handler: "handler",
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: fileURLToPath(new URL("../package-lock.json", import.meta.url)),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? DEFAULTS.memorySize,
      timeout,
      role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // With JSON logging Lambda drops lines below this level, Powertools' lines included: keep both in step.
      applicationLogLevelV2: lambda.ApplicationLogLevel[logLevel],
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      environment,
      // Asynchronous invocations (the schedule) that still fail after Lambda's retries land in the DLQ.
      retryAttempts: 2,
      deadLetterQueue: this.deadLetterQueue,
      ...(props.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrency }
        : {}),
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: "node22",
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

    const wildcards = this.grantEngineAccess(role, props.clusters ?? [], this.clusterArns);

    // ---- triggers -------------------------------------------------------------------------------------------
    const detail: Record<string, unknown> = {
      $or: [{ lastStatus: ["RUNNING", "STOPPED"] }, { desiredStatus: ["STOPPED"] }],
    };
    if (this.clusterArns.length > 0) detail.clusterArn = this.clusterArns;
    this.taskEventRule = new events.Rule(this, "TaskStateChangeRule", {
      description: "ECS task transitions that add or remove Prometheus targets",
      eventPattern: { source: ["aws.ecs"], detailType: ["ECS Task State Change"], detail },
    });
    this.taskEventRule.addTarget(
      new targets.SqsQueue(this.eventQueue, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(2),
      }),
    );
    this.function.addEventSource(
      new SqsEventSource(this.eventQueue, {
        batchSize: props.eventBatchSize ?? DEFAULTS.eventBatchSize,
        maxBatchingWindow: props.eventBatchingWindow ?? Duration.seconds(DEFAULTS.eventBatchingWindowSeconds),
        maxConcurrency: props.eventMaxConcurrency ?? DEFAULTS.eventMaxConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    this.reconcileRule = new events.Rule(this, "ReconcileSchedule", {
      description: "Full reconcile of the ECS targets",
      schedule: events.Schedule.rate(Duration.minutes(intervalMinutes)),
    });
    this.reconcileRule.addTarget(
      new targets.LambdaFunction(this.function, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 2,
        // A reconcile older than one interval is superseded by the next one.
        maxEventAge: Duration.minutes(Math.max(1, intervalMinutes)),
      }),
    );

    // ---- sidecar access -------------------------------------------------------------------------------------
    this.sidecarPolicy = new iam.ManagedPolicy(this, "SidecarReadPolicy", {
      description: `Read the Prometheus file_sd objects under ${this.targetsPrefix} (prometheus-ecs-discovery sidecar)`,
      statements: this.readStatements(),
    });

    // ---- alarms ---------------------------------------------------------------------------------------------
    this.errorsAlarm = new cloudwatch.Alarm(this, "FunctionErrorsAlarm", {
      alarmDescription:
        "prometheus-ecs-discovery: the function failed (crash, timeout, throttle). RUNBOOK.md → First Line Troubleshooting.",
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm = new cloudwatch.Alarm(this, "DeadLetterQueueAlarm", {
      alarmDescription:
        "prometheus-ecs-discovery: events or scheduled reconciles were dead-lettered. RUNBOOK.md → Second Line Troubleshooting.",
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.reconcileMissingAlarm = new cloudwatch.Alarm(this, "ReconcileMissingAlarm", {
      alarmDescription:
        `prometheus-ecs-discovery: no reconcile published every cluster for ${missingPeriods} schedule periods; ` +
        "targets may be stale. RUNBOOK.md → First Line Troubleshooting.",
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: "ReconcileSuccess",
        dimensionsMap: { service: SERVICE_NAME },
        statistic: "Sum",
        period: Duration.minutes(intervalMinutes),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: missingPeriods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    if (props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      for (const alarm of [this.errorsAlarm, this.deadLetterAlarm, this.reconcileMissingAlarm]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    this.resyncCommand = [
      "aws lambda invoke",
      `--region ${stack.region}`,
      `--function-name ${this.function.functionName}`,
      "--cli-binary-format raw-in-base64-out",
      `--payload '${RESYNC_PAYLOAD}'`,
      "/dev/stdout",
    ].join(" ");

    this.acknowledgeFindings(role, wildcards);
  }

  /** Grants read-only access to the file_sd objects (what the sidecar needs) to `grantee`. */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const [list, get] = this.readStatements();
    if (!list || !get) throw new Error("unreachable");
    iam.Grant.addToPrincipal({
      grantee,
      actions: list.actions,
      resourceArns: list.resources,
      conditions: list.conditions,
    });
    return iam.Grant.addToPrincipal({ grantee, actions: get.actions, resourceArns: get.resources });
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

  private readStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        sid: "ListTargets",
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${this.targetsPrefix}*`] } },
      }),
      new iam.PolicyStatement({
        sid: "ReadTargets",
        actions: ["s3:GetObject"],
        resources: [this.bucket.arnForObjects(`${this.targetsPrefix}*`)],
      }),
    ];
  }

  /** Adds the function's permissions; returns the wildcard resources with the reason each is needed. */
  private grantEngineAccess(
    role: iam.Role,
    clusters: string[],
    clusterArns: string[],
  ): { resource: string; reason: string }[] {
    const stack = Stack.of(this);
    const ecsArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: "ecs", resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const scoped = clusterArns.length > 0;
    // Tasks and container instances have long-format ARNs `…:task/<cluster>/<id>`.
    const regionClusterArns = scoped ? clusterArns : [ecsArn("cluster", "*")];
    const childArns = (resource: string) =>
      scoped ? clusters.map((c) => this.childArn(c, resource)) : [ecsArn(resource, "*")];
    const taskArns = childArns("task");
    const instanceArns = childArns("container-instance");
    const clusterCondition = scoped
      ? { ArnEquals: { "ecs:cluster": clusterArns } }
      : { ArnLike: { "ecs:cluster": [ecsArn("cluster", "*")] } };

    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ListClusters",
        // ListClusters has no resource type; the function needs it to find gone clusters.
        actions: ["ecs:ListClusters"],
        resources: ["*"],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "DescribeClusters",
        actions: ["ecs:DescribeClusters"],
        resources: regionClusterArns,
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ListTasks",
        // ListTasks is authorised on container instances; the cluster is enforced by the ecs:cluster key.
        actions: ["ecs:ListTasks"],
        resources: ["*"],
        conditions: clusterCondition,
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "DescribeTasks",
        actions: ["ecs:DescribeTasks"],
        resources: taskArns,
        conditions: clusterCondition,
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "DescribeContainerInstances",
        actions: ["ecs:DescribeContainerInstances"],
        resources: instanceArns,
        conditions: clusterCondition,
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "DescribeTaskDefinitionsAndInstances",
        // Neither action supports resource-level permissions.
        actions: ["ecs:DescribeTaskDefinition", "ec2:DescribeInstances"],
        resources: ["*"],
      }),
    );
    const objectArns = [this.targetsPrefix, this.statePrefix].map((p) => this.bucket.arnForObjects(`${p}*`));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ReadWriteOwnObjects",
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        resources: objectArns,
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ListOwnPrefixes",
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${this.targetsPrefix}*`, `${this.statePrefix}*`] } },
      }),
    );
    const wildcards: { resource: string; reason: string }[] = [
      {
        resource: this.bucket.arnForObjects(`${this.targetsPrefix}*`),
        reason:
          "Object keys are {prefix}{account}/{region}/{cluster}.json and clusters come and go; access is confined to " +
          "the targets prefix.",
      },
      {
        resource: this.bucket.arnForObjects(`${this.statePrefix}*`),
        reason: "The function's own state objects, one per cluster; confined to the state prefix.",
      },
    ];
    for (const [resource, what] of [
      ["task", "tasks"],
      ["container-instance", "container instances"],
      ["cluster", "clusters"],
    ] as const) {
      const patterns = resource === "cluster" ? regionClusterArns : childArns(resource);
      for (const arn of patterns) {
        if (!arn.includes("*")) continue;
        wildcards.push({
          resource: arn,
          reason: scoped
            ? `ECS ${what} of a configured cluster have generated IDs; the pattern names the cluster.`
            : `Discovery covers every cluster of the region (no clusters configured), so any ECS ${what} of this ` +
              "account and region; set clusters to narrow it.",
        });
      }
    }
    return wildcards;
  }

  /**
   * ARN pattern of the tasks or container instances of one cluster (`…:task/NAME/*`). A cluster given as an
   * ARN keeps its own partition, region and account.
   */
  private childArn(cluster: string, resource: string): string {
    if (cluster.startsWith("arn:")) return `${cluster.replace(":cluster/", `:${resource}/`)}/*`;
    return Stack.of(this).formatArn({
      service: "ecs",
      resource,
      resourceName: `${cluster}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /**
   * Acknowledges the cdk-nag findings that remain by design, each with its reason. IAM5 findings are
   * acknowledged one resource pattern at a time (never the whole rule), so a new wildcard still fails.
   */
  private acknowledgeFindings(role: iam.Role, wildcards: { resource: string; reason: string }[]): void {
    const stack = Stack.of(this);
    const idOf = (resource: string) =>
      `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(resource))}]`;
    for (const { resource, reason } of wildcards)
      Validations.of(role).acknowledge({ id: idOf(resource), reason });
    Validations.of(this.sidecarPolicy).acknowledge({
      id: idOf(this.bucket.arnForObjects(`${this.targetsPrefix}*`)),
      reason:
        "The sidecar reads every file_sd object (one per account, region and cluster) under the targets prefix.",
    });
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "ecs:ListClusters, ecs:DescribeTaskDefinition and ec2:DescribeInstances support no resource-level " +
        "permissions; ecs:ListTasks is authorised on container instances and narrowed by the ecs:cluster condition.",
    });
    Validations.of(this.function).acknowledge({
      id: "AwsSolutions-L1",
      reason:
        "Pinned to Node.js 22, the runtime the bundle is built and tested for (esbuild target node22); moving to a " +
        "newer runtime is a deliberate, tested change rather than a silent one.",
    });
  }
}

/** The flat string cdk-nag shows for a resolved CloudFormation value (`<Logical.Arn>`, `<AWS::Partition>`). */
function flattenForNag(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\$\{/g, "<").replace(/}/g, ">");
  if (typeof node === "object" && node !== null) {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o["Fn::Join"])) {
      const [delimiter, items] = o["Fn::Join"] as [string, unknown[]];
      return items.map(flattenForNag).join(delimiter);
    }
    if (o["Fn::Sub"] !== undefined) return flattenForNag(o["Fn::Sub"]);
    if (Array.isArray(o["Fn::GetAtt"])) {
      const [resource, attribute] = o["Fn::GetAtt"] as [unknown, unknown];
      return `<${flattenForNag(resource)}.${flattenForNag(attribute)}>`;
    }
    if (o["Fn::ImportValue"] !== undefined) return flattenForNag(o["Fn::ImportValue"]);
    if (o.Ref !== undefined) return `<${flattenForNag(o.Ref)}>`;
  }
  return JSON.stringify(node);
}
