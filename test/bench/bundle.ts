import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SHIPPED = "dist/lambda/handler.mjs";
const OUT_DIR = ".tmp/bench/lambda";

export interface BundleFigures {
  command: string;
  bytes: number;
  gzipBytes: number;
  buildMs: number;
  /** `await import(bundle)` in a fresh Node process: the Lambda's module init, minus the runtime's own start. */
  initMs: number[];
  medianInitMs: number;
  /** Process start to the bundle imported, for the same runs. */
  medianProcessReadyMs: number;
  node: string;
}

/**
 * Builds the handler with package.json's own build:lambda command (only the output path differs, so the
 * shipped dist/ is left alone; `extraArgs` are appended), then imports it in fresh processes with the
 * variables the stack sets.
 */
export async function measureBundle(
  variant: string,
  extraArgs: string[] = [],
  runs = 7,
): Promise<BundleFigures> {
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf-8")) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts["build:lambda"];
  if (!script?.includes(`--outfile=${SHIPPED}`))
    throw new Error(`build:lambda no longer writes ${SHIPPED}; the benchmark cannot mirror it`);
  const out = `${OUT_DIR}/${variant}/handler.mjs`;
  const command = [script.replace(`--outfile=${SHIPPED}`, `--outfile=${out}`), ...extraArgs].join(" ");
  const t0 = performance.now();
  await run("sh", ["-c", command], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
  });
  const buildMs = performance.now() - t0;
  const file = join(ROOT, out);
  const body = await readFile(file);
  const bytes = (await stat(file)).size;

  const probe = [
    "const t0 = performance.now();",
    `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    "const t1 = performance.now();",
    "console.log(JSON.stringify({ initMs: t1 - t0, readyMs: t1 }));",
  ].join("\n");
  const env = {
    PATH: process.env.PATH ?? "",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    TARGETS_BUCKET: "bench-targets",
    TARGETS_PREFIX: "targets/",
    STATE_PREFIX: "state/",
    POWERTOOLS_SERVICE_NAME: "prometheus-ecs-discovery",
    NODE_NO_WARNINGS: "1",
  };
  const inits: number[] = [];
  const readies: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe], { cwd: ROOT, env });
    const last = stdout.trim().split("\n").at(-1) ?? "{}";
    const figures = JSON.parse(last) as { initMs: number; readyMs: number };
    inits.push(figures.initMs);
    readies.push(figures.readyMs);
  }
  return {
    command,
    bytes,
    gzipBytes: gzipSync(body).length,
    buildMs,
    initMs: inits,
    medianInitMs: median(inits),
    medianProcessReadyMs: median(readies),
    node: process.version,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * The esbuild main fields the CDK construct bundles with, read from its source so this benchmark follows
 * it; undefined when the construct sets none (then it bundles exactly like build:lambda).
 */
export async function constructMainFields(): Promise<string[] | undefined> {
  const source = await readFile(join(ROOT, "cdk/ecs-discovery-construct.ts"), "utf-8");
  const match = /mainFields:\s*\[([^\]]*)\]/.exec(source);
  if (!match) return undefined;
  return [...(match[1] ?? "").matchAll(/"([^"]+)"/g)].map((m) => m[1] as string);
}
