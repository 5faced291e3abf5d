/**
 * A real Prometheus (and promtool) for end-to-end tests: Debian's package, started on a free loopback
 * port with its own temp config and TSDB directory. The binaries are required, never optional: a
 * machine without them fails the tests with the install command instead of quietly skipping them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./ports.js";

const INSTALL_HINT = "install it with `apt-get install -y --no-install-recommends prometheus`";

/** The absolute path of `name` on PATH (or in /usr/bin), or an error that says how to get it. */
export function requireBinary(name: "prometheus" | "promtool"): string {
  // /usr/bin too: Debian's package installs there, and test runners sometimes start with a narrow PATH.
  const dirs = [
    ...new Set([...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""), "/usr/bin"]),
  ];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} is not installed (looked in ${dirs.join(", ")}): the end-to-end tests need the real ` +
      `Prometheus 2.x; ${INSTALL_HINT}`,
  );
}

// A crashed test run must not leave servers scraping loopback; afterAll is the normal path, this the net.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Polls `observe` until `accept` holds; on timeout the error shows the last observation. */
export async function poll<T>(
  what: string,
  observe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  { timeoutMs = 30_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await observe();
      if (accept(value)) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() > deadline) {
      const seen =
        last === undefined
          ? "nothing"
          : "error" in last
            ? String(last.error)
            : JSON.stringify(last.value, null, 1).slice(0, 4000);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${seen}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `match`; 0 when there are none yet. */
export function metricSum(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export async function scrapeMetrics(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}

/** An entry of `/api/v1/targets` `activeTargets`, the fields the tests read. */
export interface ActiveTarget {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  lastError: string;
  lastScrape: string;
  health: "up" | "down" | "unknown";
  scrapeInterval: string;
  scrapeTimeout: string;
}

export interface PrometheusServer {
  url: string;
  dir: string;
  configFile: string;
  /** Active targets, optionally of one scrape pool (a scrape config's job_name). */
  targets(scrapePool?: string): Promise<ActiveTarget[]>;
  /** Prometheus's own /metrics. */
  metrics(): Promise<Sample[]>;
  /** The last 20 kB of its log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = new Promise((r) => setTimeout(r, 10_000));
  await Promise.race([exited, timer]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await exited;
  }
}

/**
 * Starts Prometheus with `config` (a prometheus.yml as an object) and waits until `/-/ready`. The config
 * is written as YAML into a fresh temp directory that also holds the TSDB; `stop()` removes it.
 */
export async function startPrometheus(config: Record<string, unknown>): Promise<PrometheusServer> {
  const binary = requireBinary("prometheus");
  const dir = await mkdtemp(join(tmpdir(), "ecs-sd-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  await writeFile(configFile, stringify(config));
  // freePort releases the port before Prometheus binds it; another process may take it meanwhile.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=info",
      ],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    live.add(child);
    let output = "";
    const append = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const exited = new Promise<void>((resolve) =>
      child.once("exit", () => {
        live.delete(child);
        resolve();
      }),
    );
    const stop = async () => {
      await stopChild(child, exited);
      await rm(dir, { recursive: true, force: true });
    };
    const ready = await waitReady(url, exited);
    if (ready === "ready") {
      return {
        url,
        dir,
        configFile,
        async targets(scrapePool) {
          const res = await fetch(`${url}/api/v1/targets?state=active`);
          if (!res.ok) throw new Error(`GET /api/v1/targets: HTTP ${res.status}`);
          const body = (await res.json()) as { data: { activeTargets: ActiveTarget[] } };
          const all = body.data.activeTargets;
          return scrapePool === undefined ? all : all.filter((t) => t.scrapePool === scrapePool);
        },
        metrics: () => scrapeMetrics(`${url}/metrics`),
        log: () => output,
        stop,
      };
    }
    await stopChild(child, exited);
    if (ready === "exited" && /address already in use/.test(output) && attempt < 3) continue;
    await rm(dir, { recursive: true, force: true });
    throw new Error(
      `prometheus ${ready === "exited" ? "exited" : "was not ready within 30 s"} ` +
        `(config ${configFile}):\n${output.trim()}`,
    );
  }
}

async function waitReady(url: string, exited: Promise<void>): Promise<"ready" | "exited" | "timeout"> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (gone) return "exited";
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return "ready";
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return "timeout";
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs promtool; a missing binary is an error, a non-zero exit is a result for the test to judge. */
export async function promtool(args: string[], options: { cwd?: string } = {}): Promise<ToolResult> {
  const binary = requireBinary("promtool");
  const child = spawn(binary, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  }).finally(() => live.delete(child));
  return { code, stdout, stderr };
}

/** Writes `config` as a prometheus.yml into `dir` and returns its path (for promtool). */
export async function writeConfig(dir: string, config: Record<string, unknown>, name = "prometheus.yml") {
  const file = join(dir, name);
  await writeFile(file, stringify(config));
  return file;
}
