import { Token } from "aws-cdk-lib";
import {
  discoveryEnvironment,
  type IncludeItem,
  METRICS_NAMESPACE,
  NUMBER_SETTINGS,
  POWERTOOLS_VARIABLES,
  SERVICE_NAME,
  VARIABLES,
} from "../lambda/shared/settings.js";
import { nodeOptionsFor } from "./node-options.js";
import type { EcsDiscoveryProps } from "./props.js";

/**
 * The discovery variables for `props`, checked by the settings contract with the rules the function applies
 * at cold start: a bad setting throws ConfigError, naming the variable, at synth.
 */
export function discoveryVariables(props: EcsDiscoveryProps): Record<string, string> {
  return discoveryEnvironment(
    {
      clusters: props.clusters,
      labels: props.labels,
      filterLabel: props.filterLabel,
      selectors: props.selectors,
      include: includeOf(props),
      dynamicExport: props.dynamicExport,
      // Written out even at the default, so the function's configuration shows its API limits.
      maxConcurrency: props.apiConcurrency ?? NUMBER_SETTINGS.maxConcurrency.default,
      maxAttempts: props.maxAttempts ?? NUMBER_SETTINGS.maxAttempts.default,
      churnGuardPercent: props.churnGuardPercent,
      fullDescribeMinutes: props.fullDescribeMinutes,
    },
    (value) => Token.isUnresolved(value),
  );
}

/** `include`, with the deprecated `includeTags` folded in. */
export function includeOf(props: Pick<EcsDiscoveryProps, "include" | "includeTags">): IncludeItem[] {
  const items = new Set<IncludeItem>(props.include ?? []);
  if (props.includeTags) items.add("TAGS");
  return [...items];
}

/** Where the function writes and how it logs; the discovery variables come from `discoveryVariables`. */
export interface FunctionOutput {
  readonly bucketName: string;
  readonly targetsPrefix: string;
  readonly statePrefix: string;
  readonly logLevel: string;
  /** The function's memory size, which the heap limits in NODE_OPTIONS follow. */
  readonly memorySizeMb: number;
  /** The bucket's region, when it is another region's central bucket. */
  readonly bucketRegion?: string;
}

/** The function's whole environment. */
export function functionEnvironment(
  output: FunctionOutput,
  discovery: Readonly<Record<string, string>>,
): Record<string, string> {
  const environment: Record<string, string> = {
    [VARIABLES.bucket]: output.bucketName,
    [VARIABLES.targetsPrefix]: output.targetsPrefix,
    [VARIABLES.statePrefix]: output.statePrefix,
    ...(output.bucketRegion ? { [VARIABLES.bucketRegion]: output.bucketRegion } : {}),
  };
  // The API limits go first, where earlier releases wrote them, so existing templates do not change.
  for (const { variable } of [NUMBER_SETTINGS.maxConcurrency, NUMBER_SETTINGS.maxAttempts]) {
    const value = discovery[variable];
    if (value !== undefined) environment[variable] = value;
  }
  return {
    ...environment,
    [POWERTOOLS_VARIABLES.logLevel]: output.logLevel,
    [POWERTOOLS_VARIABLES.serviceName]: SERVICE_NAME,
    [POWERTOOLS_VARIABLES.metricsNamespace]: METRICS_NAMESPACE,
    // A memory size only known at deploy time (a token) leaves V8 to size its heap itself.
    NODE_OPTIONS: Token.isUnresolved(output.memorySizeMb)
      ? "--enable-source-maps"
      : nodeOptionsFor(output.memorySizeMb),
    ...discovery,
  };
}
