import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { total } from "./aws/call-counter.js";
import { composeEngine } from "./compose.js";
import { loadLambdaConfig } from "./config.js";
import type { Log } from "./engine/deps.js";
import { ClusterListingError, type RunSummary } from "./engine/summary.js";
import { type InvokeResult, invoke } from "./invoke.js";
import { S3TargetOutput } from "./publish/s3-output.js";
import {
  ConfigError,
  METRICS_NAMESPACE,
  POWERTOOLS_VARIABLES,
  RECONCILE_SUCCESS_METRIC,
  SERVICE_NAME,
} from "./shared/settings.js";

// Cold start: configuration is validated once, and a bad variable fails the init with its name.
const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = new Metrics({
  namespace: process.env[POWERTOOLS_VARIABLES.metricsNamespace] ?? METRICS_NAMESPACE,
  serviceName: SERVICE_NAME,
});
const config = loadLambdaConfig(process.env);
const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
if (!region) throw new ConfigError("AWS_REGION", "is not set");
const log: Log = {
  debug: (message, attributes) => logger.debug(message, attributes ?? {}),
  info: (message, attributes) => logger.info(message, attributes ?? {}),
  warn: (message, attributes) => logger.warn(message, attributes ?? {}),
  error: (message, attributes) => logger.error(message, attributes ?? {}),
};
// Module scope: clients, and the caches of task definitions, hosts and parsed states, outlive invocations.
const { deps } = composeEngine({
  config,
  log,
  region,
  output: (clients) =>
    new S3TargetOutput(clients.s3, config.output.bucket, config.output.prefix, config.output.statePrefix),
});

function publishMetrics(summary: RunSummary): void {
  if (summary.reconcile && summary.ok && !summary.dryRun)
    metrics.addMetric(RECONCILE_SUCCESS_METRIC, MetricUnit.Count, 1);
  metrics.addMetric("ClusterFailures", MetricUnit.Count, summary.objects.failed);
  metrics.addMetric("Targets", MetricUnit.Count, summary.targets);
  metrics.addMetric("ObjectsWritten", MetricUnit.Count, summary.objects.written);
  metrics.addMetric("ApiCalls", MetricUnit.Count, total(summary.apiCalls));
  metrics.addMetric("Throttles", MetricUnit.Count, total(summary.throttles));
  metrics.addMetric("Warnings", MetricUnit.Count, summary.warnings);
  metrics.addMetric("EventsApplied", MetricUnit.Count, summary.events.applied);
  metrics.addMetric("EventsStale", MetricUnit.Count, summary.events.stale);
  // Only a reconcile measures drift; anything but zero there means an event was missed.
  if (summary.reconcile && !summary.dryRun) {
    metrics.addMetric("DriftTargetsAdded", MetricUnit.Count, summary.drift.added);
    metrics.addMetric("DriftTargetsRemoved", MetricUnit.Count, summary.drift.removed);
  }
  metrics.addMetric("ChurnGuardHeldBack", MetricUnit.Count, summary.heldBack);
  metrics.publishStoredMetrics();
}

export const handler = async (event: unknown, context?: Context): Promise<InvokeResult> => {
  if (context) logger.addContext(context);
  const accountId = context?.invokedFunctionArn?.split(":")[4];
  try {
    const { result, summary } = await invoke(event, accountId ? { ...deps, accountId } : deps);
    logger.info("run summary", { summary: { ...summary, targetGroups: undefined } });
    publishMetrics(summary);
    return result;
  } catch (error) {
    if (error instanceof ClusterListingError) {
      logger.info("run summary", { summary: error.summary });
      publishMetrics(error.summary);
    }
    throw error;
  }
};
