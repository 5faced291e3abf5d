/** /metrics, /healthz, /readyz and /targets (http_sd_configs), served from memory with node:http. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import type { SidecarHealth, Verdict } from "./health.js";
import type { Logger } from "./log.js";
import type { SidecarMetrics } from "./metrics.js";
import type { Syncer } from "./sync.js";

export interface HttpOptions {
  host: string;
  port: number;
  syncer: Syncer;
  metrics: SidecarMetrics;
  logger: Logger;
  /** Liveness (/healthz) and freshness (/readyz). */
  health: SidecarHealth;
}

export interface RunningHttpServer {
  server: Server;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** /targets, streamed: the merged groups are never one string in memory (targets-view.ts). */
async function sendTargets(res: ServerResponse, syncer: Syncer, head: boolean): Promise<void> {
  const body = syncer.targetsBody();
  res.writeHead(200, {
    "Content-Type": "application/json",
    "Content-Length": body.byteLength,
    "Cache-Control": "no-store",
  });
  if (head) {
    res.end();
    return;
  }
  try {
    await pipeline(body.stream(), res);
  } catch (error) {
    // A client that hangs up mid-body is its own business, not a server error worth a log line.
    if ((error as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") throw error;
  }
}

export async function startHttpServer(options: HttpOptions): Promise<RunningHttpServer> {
  const { syncer, metrics, logger, health } = options;

  const send = (res: ServerResponse, status: number, type: string, body: string, head: boolean) => {
    res.writeHead(status, {
      "Content-Type": type,
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-store",
    });
    res.end(head ? undefined : body);
  };
  const answer = (res: ServerResponse, verdict: Verdict, head: boolean) =>
    send(res, verdict.ok ? 200 : 503, "application/json", `${JSON.stringify(verdict.body)}\n`, head);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) {
      res.setHeader("Allow", "GET, HEAD");
      send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", head);
      return;
    }
    switch (path) {
      case "/metrics": {
        send(res, 200, metrics.registry.contentType, await metrics.registry.metrics(), head);
        return;
      }
      case "/healthz":
        answer(res, health.liveness(), head);
        return;
      case "/readyz":
        answer(res, health.readiness(), head);
        return;
      case "/targets": {
        // Before the first successful sync there is nothing trustworthy to say: an error makes Prometheus
        // keep the targets it has, where an empty list would drop them all (Syncer.targetsReady).
        if (!syncer.targetsReady) {
          send(
            res,
            503,
            "application/json",
            `${JSON.stringify({ error: "no successful sync yet" })}\n`,
            head,
          );
          return;
        }
        await sendTargets(res, syncer, head);
        return;
      }
      default:
        send(
          res,
          404,
          "text/plain; charset=utf-8",
          "not found: try /targets, /metrics, /healthz or /readyz\n",
          head,
        );
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.log("error", "http_error", { path: req.url, error });
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "internal error\n", false);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  logger.log("info", "http_listening", { host: address.address, port: address.port });
  return {
    server,
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
