import { Duration } from "aws-cdk-lib";
import type * as logs from "aws-cdk-lib/aws-logs";
import type { DynamicExportMode, IncludeItem } from "../lambda/shared/settings.js";
import { logRetentionProblem } from "./checks.js";
import type { BucketWriter, EcsDiscoveryProps, LabelNameProps, SelectorProps } from "./props.js";

/** Context key of the region list (`cdk.json` → `context.regions`, or `-c regions=eu-west-1,us-east-1`). */
export const REGIONS_KEY = "regions";
/** Context key of the deployment settings (`cdk.json` → `context.discovery`, or `-c discovery='{"clusters":["prod"]}'`). */
export const SETTINGS_KEY = "discovery";

/**
 * The JSON form of the construct's props, as written in `cdk.json`. In `alarmTopicArn`, `existingBucketName`
 * and `bucketName`, `{region}` is replaced by the stack's region. `byRegion` overrides any setting for one
 * region.
 */
export interface ContextSettings {
  clusters?: string[];
  labels?: LabelNameProps;
  filterLabel?: string;
  selectors?: SelectorProps[];
  include?: IncludeItem[];
  /** @deprecated use `include: ["TAGS"]`. */
  includeTags?: boolean;
  dynamicExport?: DynamicExportMode;
  existingBucketName?: string;
  existingBucketRegion?: string;
  bucketName?: string;
  bucketWriterRegions?: (string | BucketWriter)[];
  noncurrentVersionRetentionDays?: number;
  targetsPrefix?: string;
  statePrefix?: string;
  reconcileIntervalMinutes?: number;
  reconcileMissingPeriods?: number;
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
  logRetentionDays?: number;
  alarmTopicArn?: string;
  alarmEmail?: string;
  eventQueueAgeThresholdSeconds?: number;
  memorySize?: number;
  timeoutSeconds?: number;
  apiConcurrency?: number;
  maxAttempts?: number;
  churnGuardPercent?: number;
  fullDescribeMinutes?: number;
  eventBatchSize?: number;
  eventBatchingWindowSeconds?: number;
  eventMaxConcurrency?: number;
  reservedConcurrency?: number;
  accounts?: string[];
  organizationId?: string;
  accountRoleArn?: string;
  accountRoleExternalId?: string;
  byRegion?: Record<string, Omit<ContextSettings, "byRegion">>;
}

const KNOWN = new Set([
  "clusters",
  "labels",
  "filterLabel",
  "selectors",
  "include",
  "includeTags",
  "dynamicExport",
  "existingBucketName",
  "existingBucketRegion",
  "bucketName",
  "bucketWriterRegions",
  "noncurrentVersionRetentionDays",
  "targetsPrefix",
  "statePrefix",
  "reconcileIntervalMinutes",
  "reconcileMissingPeriods",
  "logLevel",
  "logRetentionDays",
  "alarmTopicArn",
  "alarmEmail",
  "eventQueueAgeThresholdSeconds",
  "memorySize",
  "timeoutSeconds",
  "apiConcurrency",
  "maxAttempts",
  "churnGuardPercent",
  "fullDescribeMinutes",
  "eventBatchSize",
  "eventBatchingWindowSeconds",
  "eventMaxConcurrency",
  "reservedConcurrency",
  "accounts",
  "organizationId",
  "accountRoleArn",
  "accountRoleExternalId",
  "byRegion",
]);

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Regions from context: a JSON array (cdk.json) or a comma-separated string (`-c regions=a,b`). */
export function parseRegions(value: unknown): string[] {
  let list: unknown = value;
  if (typeof value === "string") {
    const trimmed = value.trim();
    list = trimmed.startsWith("[") ? JSON.parse(trimmed) : trimmed.split(/[,\s]+/).filter((s) => s !== "");
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error(
      `context "${REGIONS_KEY}" must list at least one region, e.g. -c ${REGIONS_KEY}=eu-west-1,us-east-1`,
    );
  }
  for (const region of list) {
    if (typeof region !== "string" || !REGION.test(region)) {
      throw new Error(`context "${REGIONS_KEY}" has "${String(region)}", which is not an AWS region name`);
    }
  }
  return [...new Set(list as string[])];
}

/** Settings from context: an object (cdk.json) or a JSON string (`-c discovery='{...}'`). */
export function parseSettings(value: unknown): ContextSettings {
  if (value === undefined) return {};
  const parsed: unknown = typeof value === "string" ? JSON.parse(value) : value;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`context "${SETTINGS_KEY}" must be an object`);
  }
  for (const key of Object.keys(parsed)) {
    if (!KNOWN.has(key)) throw new Error(`context "${SETTINGS_KEY}" has unknown setting "${key}"`);
  }
  return parsed as ContextSettings;
}

/** Settings for one region (byRegion applied, `{region}` substituted), in the construct's terms. */
export function settingsForRegion(
  settings: ContextSettings,
  region: string,
): Omit<EcsDiscoveryProps, "alarmTopic"> & { alarmTopicArn?: string } {
  const { byRegion, ...common } = settings;
  const s: Omit<ContextSettings, "byRegion"> = { ...common, ...(byRegion?.[region] ?? {}) };
  for (const key of Object.keys(byRegion?.[region] ?? {})) {
    if (!KNOWN.has(key) || key === "byRegion")
      throw new Error(`byRegion.${region} has unknown setting "${key}"`);
  }
  const sub = (v: string | undefined) => v?.replaceAll("{region}", region);
  if (s.logRetentionDays !== undefined) {
    const problem = logRetentionProblem(`${SETTINGS_KEY} setting "logRetentionDays"`, s.logRetentionDays);
    if (problem) throw new Error(`${problem} (region ${region})`);
  }
  const props: Omit<EcsDiscoveryProps, "alarmTopic"> & { alarmTopicArn?: string } = {
    clusters: s.clusters,
    labels: s.labels,
    filterLabel: s.filterLabel,
    selectors: s.selectors,
    include: s.include,
    includeTags: s.includeTags,
    dynamicExport: s.dynamicExport,
    existingBucketName: sub(s.existingBucketName),
    existingBucketRegion: s.existingBucketRegion,
    bucketName: sub(s.bucketName),
    bucketWriterRegions: s.bucketWriterRegions,
    noncurrentVersionRetentionDays: s.noncurrentVersionRetentionDays,
    targetsPrefix: s.targetsPrefix,
    statePrefix: s.statePrefix,
    reconcileInterval:
      s.reconcileIntervalMinutes === undefined ? undefined : Duration.minutes(s.reconcileIntervalMinutes),
    reconcileMissingPeriods: s.reconcileMissingPeriods,
    logLevel: s.logLevel,
    logRetention: s.logRetentionDays as logs.RetentionDays | undefined,
    alarmTopicArn: sub(s.alarmTopicArn),
    alarmEmail: s.alarmEmail,
    eventQueueAgeThreshold:
      s.eventQueueAgeThresholdSeconds === undefined
        ? undefined
        : Duration.seconds(s.eventQueueAgeThresholdSeconds),
    memorySize: s.memorySize,
    timeout: s.timeoutSeconds === undefined ? undefined : Duration.seconds(s.timeoutSeconds),
    apiConcurrency: s.apiConcurrency,
    maxAttempts: s.maxAttempts,
    churnGuardPercent: s.churnGuardPercent,
    fullDescribeMinutes: s.fullDescribeMinutes,
    eventBatchSize: s.eventBatchSize,
    eventBatchingWindow:
      s.eventBatchingWindowSeconds === undefined ? undefined : Duration.seconds(s.eventBatchingWindowSeconds),
    eventMaxConcurrency: s.eventMaxConcurrency,
    reservedConcurrency: s.reservedConcurrency,
    accounts: s.accounts,
    organizationId: s.organizationId,
    accountRoleArn: s.accountRoleArn,
    accountRoleExternalId: s.accountRoleExternalId,
  };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as typeof props;
}
