import type { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import {
  DEFAULT_STATE_PREFIX,
  DEFAULT_TARGETS_PREFIX,
  type DynamicExportMode,
  type IncludeItem,
  NUMBER_SETTINGS,
} from "../lambda/shared/settings.js";
import { DEFAULT_MEMORY_MB } from "./node-options.js";

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
  /**
   * Labels beyond those every target carries (`INCLUDE`): `TAGS` adds the cluster, service, task and EC2
   * instance tag families; `SERVICES` adds the service's ARN and status (and, with `TAGS`, its tags), at the
   * cost of DescribeServices calls. `["TAGS", "SERVICES"]` gives every label Prometheus's own ECS discovery
   * writes. The IAM policy grows only by what these need.
   * @default - neither
   */
  readonly include?: IncludeItem[];
  /** @deprecated use `include: ["TAGS"]`; kept so existing stacks synthesize unchanged. */
  readonly includeTags?: boolean;
  /**
   * `"only"` reproduces the old poller's global dynamic-port mode (only containers with the dynamic-export
   * label set count; the port label is ignored). @default "per-container"
   */
  readonly dynamicExport?: DynamicExportMode;
  /**
   * Name of an existing bucket to write to instead of creating one (for example one bucket shared by every
   * region: keys carry account and region, so regions never collide). The stack then manages no bucket
   * settings; versioning, encryption and TLS enforcement are the owner's job.
   * @default - a bucket is created
   */
  readonly existingBucketName?: string;
  /**
   * Region of `existingBucketName` when it is not the stack's own (one central bucket for every region). The
   * function's role then gets its fixed name, `prometheus-ecs-discovery-hub-{region}`, so that the bucket's
   * stack can name it in `bucketWriterRegions`. @default - the stack's region
   */
  readonly existingBucketRegion?: string;
  /**
   * Name of the created bucket, for a central bucket the other regions' stacks name in `existingBucketName`.
   * @default - a name CloudFormation generates
   */
  readonly bucketName?: string;
  /**
   * Other regions whose hub functions write to the created bucket (a central bucket): a region (its hub role
   * in this account) or `{ region, account }`. The bucket policy allows each hub role
   * (`prometheus-ecs-discovery-hub-{region}`) the object actions under `targets/` and `state/`
   * on keys of its own region (any account) and the listing of those prefixes, and nothing else. @default - none
   */
  readonly bucketWriterRegions?: (string | BucketWriter)[];
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
  /**
   * Every alarm's ALARM and OK notifications go to this topic (same region).
   * @default - a topic is created (TLS-only publishers); its ARN is the `AlarmTopicArn` output
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * E-mail address subscribed to the alarm topic (the created one or `alarmTopic`). AWS sends a confirmation
   * message first; nothing arrives until it is confirmed. @default - no subscription
   */
  readonly alarmEmail?: string;
  /**
   * The `EventQueueAge` alarm fires when the oldest ECS event in the queue is at least this old (whole seconds,
   * 60 or more). @default - seven function timeouts plus a minute, at least 300 s (900 s with the default timeout):
   * a failed event is retried after the queue's visibility timeout (six function timeouts) and runs up to one
   * more, so only an older message means the queue is stuck
   */
  readonly eventQueueAgeThreshold?: Duration;
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
  /**
   * Minutes between scheduled reconciles that describe every task and refresh every EC2 instance
   * (`FULL_DESCRIBE_MINUTES`); the reconciles between list every task but describe only new ones, ones not
   * yet running, and ones whose health is still settling. @default - the engine's default, 60
   */
  readonly fullDescribeMinutes?: number;
  /**
   * Most ECS events handed to one invocation (Lambda allows up to 10,000, but more than 10 only with a
   * batching window of at least 1 s). @default 1000
   */
  readonly eventBatchSize?: number;
  /**
   * How long the queue gathers events before invoking the function: the largest single wait between a task
   * starting and its target being written. Longer windows mean fewer invocations and ECS calls in a storm,
   * shorter ones fresher targets; `npm run bench -- --only storm` measures both. @default Duration.seconds(1)
   */
  readonly eventBatchingWindow?: Duration;
  /** Most concurrent invocations the event queue drives (2 is the Lambda minimum). @default 2 */
  readonly eventMaxConcurrency?: number;
  /**
   * Reserved concurrency of the function, an upper bound over all triggers: at least `eventMaxConcurrency` + 1
   * (the event queue's invocations and the reconcile). @default - none (unreserved)
   */
  readonly reservedConcurrency?: number;
  /**
   * Other AWS accounts to discover, besides the stack's own (12-digit ids; `ACCOUNTS`). Turns the stack into a
   * hub: an event bus (`prometheus-ecs-discovery`) that takes ECS task events from these accounts' spokes, the
   * function's role named `prometheus-ecs-discovery-hub-{region}` and allowed to assume the reader role of
   * exactly these accounts, and S3 access to their prefixes. Needs `accountRoleExternalId`.
   * @default - the stack's own account only
   */
  readonly accounts?: string[];
  /**
   * An AWS Organizations id (`o-…`): the hub's event bus takes events from any account of the organisation,
   * and the function may assume the reader role of any account of it (`aws:ResourceOrgID`). Without
   * `accounts`, its S3 access covers every account's keys of the stack's region, since the accounts cannot be
   * listed. Needs `accountRoleExternalId`. @default - no organisation
   */
  readonly organizationId?: string;
  /**
   * The role the function assumes in each other account, with `{account}` in place of the account id
   * (`ACCOUNT_ROLE_ARN`). @default "arn:aws:iam::{account}:role/prometheus-ecs-discovery-reader" (the spoke's role)
   */
  readonly accountRoleArn?: string;
  /**
   * The external id the function passes when it assumes a reader role (`ACCOUNT_ROLE_EXTERNAL_ID`); the spokes'
   * `ExternalId`. Required with `accounts` or `organizationId`.
   */
  readonly accountRoleExternalId?: string;
  /** Path of the handler source. @default - `lambda/handler.ts` of this repository */
  readonly entry?: string;
}

/** A hub in another region (and, optionally, another account) that writes to a central bucket. */
export interface BucketWriter {
  readonly region: string;
  /** @default - the bucket stack's account */
  readonly account?: string;
}

/** The construct's defaults; those the function shares are the settings contract's. */
export const DEFAULTS = {
  targetsPrefix: DEFAULT_TARGETS_PREFIX,
  statePrefix: DEFAULT_STATE_PREFIX,
  reconcileIntervalMinutes: 5,
  reconcileMissingPeriods: 3,
  logLevel: "INFO",
  logRetention: logs.RetentionDays.ONE_MONTH,
  memorySize: DEFAULT_MEMORY_MB,
  timeoutSeconds: 120,
  noncurrentVersionRetentionDays: 30,
  apiConcurrency: NUMBER_SETTINGS.maxConcurrency.default,
  maxAttempts: NUMBER_SETTINGS.maxAttempts.default,
  eventBatchSize: 1000,
  /**
   * Measured (`npm run bench -- --only storm`: 5,000 events of a rolling deployment in 60 s on a 2,000-task
   * cluster, AWS's token buckets, 2 concurrent environments, real time): 1 s is the shortest window that keeps
   * the storm within 300 ECS/EC2 calls and without throttling failures: 90 invocations, 82 calls, none
   * throttled; an event waits 0.52 s on average, 1.0 s at p99 (74–86 calls, p99 1.0–1.1 s over three runs).
   * 5 s needs only 29 calls but holds every event 2.6 s on average, 5.3 s at p99. No window (which caps a
   * batch at 10) took 594 invocations and 331 calls, lost 7 invocations to write conflicts and fell behind:
   * p99 wait 16 s. At 1 s the batch size of 1000 never binds (about 83 events arrive a second).
   */
  eventBatchingWindowSeconds: 1,
  eventMaxConcurrency: 2,
} as const;
