import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in exporter: answers Prometheus text on exactly the paths it was given and 404 everywhere
 * else, so a target that Prometheus reports `up` proves it was scraped on the path the labels asked for.
 */
export interface MetricsServer {
  host: string;
  port: number;
  /** `host:port`, as it appears in a file_sd target and in Prometheus's `instance` label. */
  address: string;
  paths: readonly string[];
  /** Requests per path, 404s included, to tell "Prometheus never came" from "came to the wrong path". */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export interface MetricsServerSpec {
  /** A loopback address; all of 127.0.0.0/8 is local on Linux, so each fake host can have its own. */
  host: string;
  /** Default `["/metrics"]`. */
  paths?: string[];
  /** Default 0: a free port, which the test then writes into the fleet's labels and port mappings. */
  port?: number;
}

export async function startMetricsServer(spec: MetricsServerSpec): Promise<MetricsServer> {
  const paths = spec.paths ?? ["/metrics"];
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (req.method !== "GET" || !paths.includes(path)) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const body = [
      "# HELP e2e_exporter_info Which fake exporter answered.",
      "# TYPE e2e_exporter_info gauge",
      `e2e_exporter_info{listen="${spec.host}",path="${path}"} 1`,
      "",
    ].join("\n");
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(spec.port ?? 0, spec.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: spec.host,
    port,
    address: `${spec.host}:${port}`,
    paths,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startMetricsServers(specs: MetricsServerSpec[]): Promise<MetricsServer[]> {
  const started: MetricsServer[] = [];
  try {
    for (const spec of specs) started.push(await startMetricsServer(spec));
  } catch (error) {
    await Promise.all(started.map((s) => s.close()));
    throw error;
  }
  return started;
}
