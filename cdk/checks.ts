import { Duration, Token } from "aws-cdk-lib";
import { checkPrefixes } from "../lambda/shared/output-settings.js";
import { discoveryVariables } from "./function-environment.js";
import { DEFAULTS, type EcsDiscoveryProps } from "./props.js";

/** The props the construct has checked, with their defaults filled in. */
export interface CheckedProps {
  readonly targetsPrefix: string;
  readonly statePrefix: string;
  readonly reconcileIntervalMinutes: number;
  readonly reconcileMissingPeriods: number;
  /** The function's discovery variables, checked by the settings contract. */
  readonly discoveryVariables: Record<string, string>;
}

/** Every check of `props`, before anything is built: a bad setting fails the synth, not the deployed function. */
export function checkProps(props: EcsDiscoveryProps): CheckedProps {
  return {
    ...checkedPrefixes(props),
    ...checkedReconcileSchedule(props),
    ...checkEventSource(props),
    discoveryVariables: discoveryVariables(props),
  };
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
