/**
 * The function's configuration, read from the environment once (at cold start for the Lambda, at start-up
 * for the CLI) through the settings contract (`shared/settings.ts`), so a bad deployment fails with a
 * message that names the variable instead of misbehaving later.
 */
import { compileRules, type TargetRules } from "./core/rules.js";
import { type AccountSettings, readAccountSettings } from "./shared/account-settings.js";
import { type OutputSettings, readOutputSettings } from "./shared/output-settings.js";
import { type DiscoverySettings, readDiscoverySettings } from "./shared/settings.js";

export interface EngineConfig {
  /** Cluster names or ARNs; empty means every cluster of the region. */
  clusters: string[];
  /** Which containers become targets, compiled once: the warm memo is valid while these are the same. */
  rules: TargetRules;
  /** Clusters discovered at once, and describe batches in flight per cluster. */
  maxConcurrency: number;
  /** SDK attempts per call (adaptive retry mode). */
  maxAttempts: number;
  /** Churn guard: a reconcile removing more than this share of a cluster's tasks unannounced waits once. */
  churnGuardPercent: number;
  /** Minutes between scheduled reconciles that describe every task (see FULL_DESCRIBE_MINUTES). */
  fullDescribeMinutes: number;
  /** Other accounts to discover through a role in each (ACCOUNTS); absent or empty: the own account only. */
  accounts?: AccountSettings;
}

export interface LambdaConfig extends EngineConfig {
  output: OutputSettings;
}

export function engineConfigOf(settings: DiscoverySettings): EngineConfig {
  return {
    clusters: settings.clusters,
    rules: compileRules(settings),
    maxConcurrency: settings.maxConcurrency,
    maxAttempts: settings.maxAttempts,
    churnGuardPercent: settings.churnGuardPercent,
    fullDescribeMinutes: settings.fullDescribeMinutes,
  };
}

export function loadEngineConfig(env: Record<string, string | undefined>): EngineConfig {
  const config = engineConfigOf(readDiscoverySettings(env));
  const accounts = readAccountSettings(env);
  if (accounts.accounts.length > 0) config.accounts = accounts;
  return config;
}

export function loadLambdaConfig(env: Record<string, string | undefined>): LambdaConfig {
  const engine = loadEngineConfig(env);
  return { ...engine, output: readOutputSettings(env) };
}
