/** Wires configuration, S3, the directory, the poll loop, health, signals and the HTTP server together. */
import { S3Client } from "@aws-sdk/client-s3";
import { ConfigError, parseConfig, type SidecarConfig, USAGE } from "./config.js";
import { SidecarHealth } from "./health.js";
import { type RunningHttpServer, startHttpServer } from "./http.js";
import { FsLocalDir } from "./localdir.js";
import { isLogLevel, jsonLogger, type Logger } from "./log.js";
import { PollLoop } from "./loop.js";
import { SidecarMetrics } from "./metrics.js";
import { S3ObjectStore } from "./store.js";
import { Syncer, syncId } from "./sync.js";

/** An S3 client from the standard SDK configuration; path-style when an endpoint override is set. */
export function createS3Client(
  env: NodeJS.ProcessEnv,
  timeouts: { connectionTimeout: number; requestTimeout: number } = {
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
  },
): S3Client {
  const endpointOverride = Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
  return new S3Client({
    forcePathStyle: endpointOverride,
    // A bucket in another region than AWS_REGION still works (one redirect, then cached).
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
  const client = createS3Client(env);
  const store = new S3ObjectStore(client, config.bucket, metrics.observeRequest);
  const dir = new FsLocalDir(config.outDir, syncId(config.bucket, config.prefix));
  const { bucket, prefix, maxObjectBytes, trustEmptyListing } = config;
  const syncer = new Syncer(store, dir, { bucket, prefix, maxObjectBytes, trustEmptyListing }, log, metrics);
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
    client.destroy();
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    log.log("info", "stopped", {});
  }
}
