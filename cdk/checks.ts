import { Duration, type Stack, Token } from "aws-cdk-lib";
import * as logs from "aws-cdk-lib/aws-logs";
import { checkPrefixes } from "../lambda/shared/output-settings.js";
import { checkAccounts, type HubAccounts } from "./accounts.js";
import { defaultEventQueueAgeThresholdSeconds } from "./alarms.js";
import { type BucketLayout, checkBucketLayout } from "./central-bucket.js";
import { discoveryVariables } from "./function-environment.js";
import { hubRoleName } from "./hub-names.js";
import { DEFAULTS, type EcsDiscoveryProps } from "./props.js";

/** The props the construct has checked, with their defaults filled in. */
export interface CheckedProps {
  readonly targetsPrefix: string;
  readonly statePrefix: string;
  readonly reconcileIntervalMinutes: number;
  readonly reconcileMissingPeriods: number;
  /** The function's timeout. */
  readonly timeout: Duration;
  /** The threshold of the event queue's age alarm. */
  readonly eventQueueAgeThresholdSeconds: number;
  /** The function's discovery variables, checked by the settings contract. */
  readonly discoveryVariables: Record<string, string>;
  /** The other accounts the function discovers (a hub), if any. */
  readonly hub: HubAccounts;
  /** Other regions' hubs writing to the created bucket; whether the function writes to another region's. */
  readonly bucketLayout: BucketLayout;
  /**
   * The function role's fixed name, `prometheus-ecs-discovery-hub-{region}`, when others must name it: a hub's
   * spokes, or the bucket of another region. @default - a generated name
   */
  readonly functionRoleName: string | undefined;
}

/** Every check of `props`, before anything is built: a bad setting fails the synth, not the deployed function. */
export function checkProps(stack: Stack, props: EcsDiscoveryProps): CheckedProps {
  const hub = checkAccounts(stack, props);
  const bucketLayout = checkBucketLayout(stack, props);
  return {
    ...checkedPrefixes(props),
    ...checkedReconcileSchedule(props),
    ...checkEventSource(props),
    ...checkConcurrency(props),
    ...checkedMonitoring(props),
    discoveryVariables: discoveryVariables(props),
    hub,
    bucketLayout,
    functionRoleName: hub.isHub || bucketLayout.writesToOtherRegion ? hubRoleName(stack.region) : undefined,
  };
}

/** The retention periods CloudWatch Logs accepts, in days (`logs.RetentionDays`; 9999 keeps logs forever). */
export const LOG_RETENTION_DAYS: readonly number[] = Object.values(logs.RetentionDays).filter(
  (v): v is number => typeof v === "number",
);

/** The message for a retention CloudWatch Logs would refuse at deploy time; `name` is the prop or setting. */
export function logRetentionProblem(name: string, days: unknown): string | undefined {
  if (typeof days === "number" && (Token.isUnresolved(days) || LOG_RETENTION_DAYS.includes(days))) return;
  const accepted = LOG_RETENTION_DAYS.filter((d) => d !== logs.RetentionDays.INFINITE).join(", ");
  return (
    `${name} must be one of the retention periods CloudWatch Logs accepts (${accepted} days), ` +
    `or ${logs.RetentionDays.INFINITE} to keep logs forever; got ${JSON.stringify(days)}`
  );
}

const EMAIL = /^[^\s@,;<>"]+@[^\s@,;<>"]+\.[^\s@,;<>"]+$/;

/**
 * The alarm topic's e-mail address, the log retention and the event queue's age threshold: values that
 * CloudFormation or SNS would only refuse at deploy time, or that would make an alarm meaningless.
 */
function checkedMonitoring(props: EcsDiscoveryProps): {
  timeout: Duration;
  eventQueueAgeThresholdSeconds: number;
} {
  const { alarmEmail, logRetention } = props;
  if (alarmEmail !== undefined && !Token.isUnresolved(alarmEmail) && !EMAIL.test(alarmEmail))
    throw new Error(`alarmEmail must be one e-mail address such as oncall@example.com, got "${alarmEmail}"`);
  const retentionProblem =
    logRetention === undefined ? undefined : logRetentionProblem("logRetention", logRetention);
  if (retentionProblem) throw new Error(retentionProblem);
  const timeout = props.timeout ?? Duration.seconds(DEFAULTS.timeoutSeconds);
  const threshold =
    props.eventQueueAgeThreshold?.toSeconds() ?? defaultEventQueueAgeThresholdSeconds(timeout.toSeconds());
  if (!Token.isUnresolved(threshold) && (!Number.isInteger(threshold) || threshold < 60))
    throw new Error(`eventQueueAgeThreshold must be whole seconds, at least 60, got ${threshold}`);
  return { timeout, eventQueueAgeThresholdSeconds: threshold };
}

/**
 * Lambda's range for the event source's concurrency, and a reserved concurrency that leaves room for it:
 * below eventMaxConcurrency + 1, the queue's invocations and the scheduled reconcile throttle each other.
 */
function checkConcurrency(props: EcsDiscoveryProps): Record<string, never> {
  const eventMax = props.eventMaxConcurrency ?? DEFAULTS.eventMaxConcurrency;
  const reserved = props.reservedConcurrency;
  if (Token.isUnresolved(eventMax) || (reserved !== undefined && Token.isUnresolved(reserved))) return {};
  if (!Number.isInteger(eventMax) || eventMax < 2 || eventMax > 1000)
    throw new Error(
      `eventMaxConcurrency must be a whole number from 2 to 1000 (Lambda's range), got ${eventMax}`,
    );
  if (reserved === undefined) return {};
  if (!Number.isInteger(reserved) || reserved < eventMax + 1)
    throw new Error(
      `reservedConcurrency ${reserved} is below eventMaxConcurrency ${eventMax} + 1: the event queue may run ` +
        `eventMaxConcurrency invocations at once and the scheduled reconcile needs one more, so a smaller ` +
        `reservation throttles them. Set reservedConcurrency to at least ${eventMax + 1}, or lower eventMaxConcurrency.`,
    );
  return {};
}

/** The prefixes, by the contract's rule for every prefix (non-empty, ending in "/", apart from each other). */
function checkedPrefixes(props: EcsDiscoveryProps): { targetsPrefix: string; statePrefix: string } {
  const targetsPrefix = props.targetsPrefix ?? DEFAULTS.targetsPrefix;
  const statePrefix = props.statePrefix ?? DEFAULTS.statePrefix;
  // The contract's rules cannot be checked on a value the synth does not know.
  for (const [name, value] of [
    ["targetsPrefix", targetsPrefix],
    ["statePrefix", statePrefix],
  ]) {
    if (Token.isUnresolved(value)) throw new Error(`${name} must be a plain string, not a token`);
  }
  checkPrefixes(targetsPrefix, statePrefix, { prefix: "targetsPrefix", statePrefix: "statePrefix" });
  return { targetsPrefix, statePrefix };
}

function checkedReconcileSchedule(props: EcsDiscoveryProps): {
  reconcileIntervalMinutes: number;
  reconcileMissingPeriods: number;
} {
  const intervalMinutes = (
    props.reconcileInterval ?? Duration.minutes(DEFAULTS.reconcileIntervalMinutes)
  ).toMinutes();
  if (!Number.isInteger(intervalMinutes) || intervalMinutes < 1) {
    throw new Error("reconcileInterval must be a whole number of minutes");
  }
  const missingPeriods = props.reconcileMissingPeriods ?? DEFAULTS.reconcileMissingPeriods;
  if (!Number.isInteger(missingPeriods) || missingPeriods < 1 || missingPeriods * intervalMinutes > 24 * 60) {
    throw new Error(
      "reconcileMissingPeriods must be a whole number ≥ 1, and periods × interval at most one day",
    );
  }
  return { reconcileIntervalMinutes: intervalMinutes, reconcileMissingPeriods: missingPeriods };
}

/**
 * Lambda's own rules for an SQS event source, which CloudFormation would only report at deploy time:
 * batches above 10 need a batching window of at least a second, windows are at most 300 s, batches at most
 * 10,000 (standard queue).
 */
function checkEventSource(props: EcsDiscoveryProps): Record<string, never> {
  const batchSize = props.eventBatchSize ?? DEFAULTS.eventBatchSize;
  const window = props.eventBatchingWindow?.toSeconds() ?? DEFAULTS.eventBatchingWindowSeconds;
  if (Token.isUnresolved(batchSize) || Token.isUnresolved(window)) return {};
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    throw new Error(`eventBatchSize must be a whole number from 1 to 10000, got ${batchSize}`);
  if (!Number.isInteger(window) || window < 0 || window > 300)
    throw new Error(`eventBatchingWindow must be whole seconds from 0 to 300, got ${window}`);
  if (batchSize > 10 && window < 1)
    throw new Error(
      `eventBatchSize ${batchSize} needs an eventBatchingWindow of at least 1 second (Lambda allows more than 10 messages per batch only with a window)`,
    );
  return {};
}
