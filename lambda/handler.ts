import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { composeEngine } from "./compose.js";
import { loadLambdaConfig } from "./config.js";
import type { Log } from "./engine/deps.js";
import { ClusterListingError, type RunSummary } from "./engine/summary.js";
import { type InvokeResult, invoke } from "./invoke.js";
import { S3TargetOutput } from "./publish/s3-output.js";
import { runMetrics } from "./run-metrics.js";
import { ConfigError, METRICS_NAMESPACE, POWERTOOLS_VARIABLES, SERVICE_NAME } from "./shared/settings.js";

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
  ...(config.output.bucketRegion ? { s3Region: config.output.bucketRegion } : {}),
  output: (clients) =>
    new S3TargetOutput(clients.s3, config.output.bucket, config.output.prefix, config.output.statePrefix),
});

function publishMetrics(summary: RunSummary): void {
  for (const point of runMetrics(summary)) {
    if (!point.dimension) {
      metrics.addMetric(point.name, MetricUnit.Count, point.value);
      continue;
    }
    // Another dimension set is another EMF document: a single metric, flushed at once.
    const single = metrics.singleMetric();
    single.addDimension(point.dimension.name, point.dimension.value);
    single.addMetric(point.name, MetricUnit.Count, point.value);
  }
  metrics.publishStoredMetrics();
}

export const handler = async (event: unknown, context?: Context): Promise<InvokeResult> => {
  if (context) logger.addContext(context);
  const accountId = context?.invokedFunctionArn?.split(":")[4];
  try {
    const { result, summary } = await invoke(event, accountId ? { ...deps, accountId } : deps);
    if (!summary) {
      // explain: read-only, not a run; its answer is the result, and its figures would skew the metrics.
      logger.info("explained", { query: "query" in result ? result.query : undefined });
      return result;
    }
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
