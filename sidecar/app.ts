/** Wires configuration, S3, the directory, the poll loop, health, signals and the HTTP server together. */
import { S3Client } from "@aws-sdk/client-s3";
import { ConfigError, parseConfig, type SidecarConfig, USAGE } from "./config.js";
import { SidecarHealth } from "./health.js";
import { type RunningHttpServer, startHttpServer } from "./http.js";
import { FsLocalDir } from "./localdir.js";
import { isLogLevel, jsonLogger, type Logger } from "./log.js";
import { PollLoop } from "./loop.js";
import { SidecarMetrics } from "./metrics.js";
import { RegionalClients } from "./s3-clients.js";
import { S3ObjectStore } from "./store.js";
import { type BucketSource, Syncer, syncId } from "./sync.js";

/**
 * An S3 client from the standard SDK configuration; path-style when an endpoint override is set. `region`
 * overrides the SDK's default region (AWS_REGION and the rest of the chain).
 */
export function createS3Client(
  env: NodeJS.ProcessEnv,
  timeouts: { connectionTimeout: number; requestTimeout: number } = {
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
  },
  region?: string,
): S3Client {
  const endpointOverride = Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
  return new S3Client({
    ...(region === undefined ? {} : { region }),
    forcePathStyle: endpointOverride,
    // A bucket in another region than the client's still works, at the price of a redirect on every
    // request: the SDK does not remember it. RegionalClients (s3-clients.ts) learns the bucket's region
    // from the first redirect and reads it through a client of that region from then on.
    followRegionRedirects: true,
    // Without throwOnRequestTimeout the SDK only warns when requestTimeout passes and keeps waiting: one
    // unanswered GET would stall every later poll, and Prometheus would never see another change.
    requestHandler: { ...timeouts, throwOnRequestTimeout: true },
  });
}

function usageError(message: string): number {
  process.stderr.write(`prometheus-ecs-discovery-sidecar: ${message}\n`);
  return 2;
}

/** The configuration and the logger, or the exit code when the sidecar must not start (help, bad settings). */
function setUp(
  argv: string[],
  env: NodeJS.ProcessEnv,
  logger: Logger | undefined,
): { config: SidecarConfig; log: Logger } | number {
  let config: SidecarConfig;
  try {
    config = parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  if (config.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let log = logger;
  if (!log) {
    const level = env.SIDECAR_LOG_LEVEL || "info";
    if (!isLogLevel(level)) return usageError("SIDECAR_LOG_LEVEL: expected debug, info, warn or error");
    log = jsonLogger(undefined, level);
  }
  if (config.prefix !== "" && !config.prefix.endsWith("/")) {
    log.log("warn", "prefix_without_slash", {
      prefix: config.prefix,
      note: `keys are expected as ${config.prefix}{accountId}/{region}/{clusterName}.json`,
    });
  }
  return { config, log };
}

/** Runs the sidecar; resolves to the process exit code. */
export async function runSidecar(argv: string[], env: NodeJS.ProcessEnv, logger?: Logger): Promise<number> {
  const ready = setUp(argv, env, logger);
  if (typeof ready === "number") return ready;
  const { config, log } = ready;

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    log.log("info", "stopping", { signal });
    stop.abort();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const metrics = new SidecarMetrics({ defaultMetrics: true });
  const clients = new RegionalClients((region) => createS3Client(env, undefined, region), log);
  const sources: BucketSource[] = config.buckets.map(({ name, region }) => ({
    bucket: name,
    store: new S3ObjectStore(() => clients.clientFor(name, region), name, metrics.observeRequest),
  }));
  const { prefix, maxObjectBytes, trustEmptyListing } = config;
  // With one bucket, the temp file tag is the one a single-bucket sidecar always used.
  const dir = new FsLocalDir(config.outDir, syncId(config.buckets.map((b) => b.name).join(","), prefix));
  const syncer = new Syncer(sources, dir, { prefix, maxObjectBytes, trustEmptyListing }, log, metrics);
  const { intervalMs, freshnessIntervals, syncTimeoutMs } = config;
  const health = new SidecarHealth(syncer.history, { intervalMs, freshnessIntervals, syncTimeoutMs });
  metrics.watchFreshness(() => health.fresh(), health.maxAgeMs / 1000);
  let http: RunningHttpServer | undefined;
  try {
    try {
      await syncer.init();
    } catch (error) {
      log.log("error", "init_failed", { dir: config.outDir, error });
      return 1;
    }
    if (config.listen) {
      try {
        http = await startHttpServer({
          ...config.listen,
          syncer,
          metrics,
          logger: log,
          health,
        });
      } catch (error) {
        log.log("error", "listen_failed", { listen: config.listen, error });
        return 1;
      }
    }
    if (config.once) return (await syncer.syncOnce(stop.signal, syncTimeoutMs)).ok ? 0 : 1;
    const loop = new PollLoop(syncer, health, { intervalMs, syncTimeoutMs }, log);
    return (await loop.run(stop.signal)) === "stuck" ? 1 : 0;
  } finally {
    await http?.close();
    clients.destroy();
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    log.log("info", "stopped", {});
  }
}
