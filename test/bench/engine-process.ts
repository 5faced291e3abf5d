import { type ChildProcess, fork } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { DEFAULT_MEMORY_MB, nodeOptionsFor } from "../../cdk/node-options.js";
import type { ObjectKind, ObjectRef, StoredObject } from "../../lambda/publish/target-output.js";
import type { MemoryTargetOutput } from "./memory-output.js";
import type { FromEngine, InvokeReport, ToEngine } from "./protocol.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const BUNDLE = join(ROOT, ".tmp/bench/engine-worker.mjs");

let bundled: Promise<string> | undefined;

/**
 * The engine process runs bundled, as the Lambda does (minified, ESM entry points of the SDK as the CDK
 * construct bundles them): under a TypeScript loader the same process would start at ~190 MB RSS instead
 * of ~45 MB, and peak RSS would say more about the loader than about the engine.
 */
export function engineBundle(): Promise<string> {
  bundled ??= build({
    entryPoints: [join(HERE, "engine-worker.ts")],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${process.versions.node.split(".")[0]}`,
    minify: true,
    mainFields: ["module", "main"],
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: "warning",
  }).then(() => BUNDLE);
  return bundled;
}

/**
 * The driver's handle on one engine process (one Lambda execution environment). The process reads and
 * writes `store`, which stays here, so several processes can share one store and a later process can
 * start cold against what an earlier one published.
 */
export class EngineProcess {
  private readonly waiting = new Map<
    number,
    { resolve: (r: InvokeReport) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly store: MemoryTargetOutput,
  ) {
    child.on("message", (message: FromEngine) => this.onMessage(message));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("exit", (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`engine process exited (code ${code})`));
      this.waiting.clear();
    });
  }

  /** Starts a process and waits for its module init (clients, configuration) to finish. */
  static async start(store: MemoryTargetOutput, env: Record<string, string>): Promise<EngineProcess> {
    const child = fork(await engineBundle(), [], {
      // What the construct gives the function at its default memory; BENCH_ENGINE_NODE_OPTIONS replaces it
      // (e.g. "--max-old-space-size=200", to see whether a peak is live data or garbage V8 left for later).
      execArgv: (process.env.BENCH_ENGINE_NODE_OPTIONS ?? nodeOptionsFor(DEFAULT_MEMORY_MB))
        .split(/\s+/)
        .filter(Boolean),
      env: { ...process.env, ...env, BENCH_STORE: store.name },
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const engine = new EngineProcess(child, store);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromEngine) => {
        if (m.kind !== "ready") return;
        child.off("message", onMessage);
        resolve();
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`engine process exited during init (code ${code})`)));
    });
    return engine;
  }

  invoke(event: unknown): Promise<InvokeReport> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.post({ kind: "invoke", id, event });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.connected) this.child.disconnect();
    await this.exited;
  }

  private post(message: ToEngine): void {
    if (this.child.connected) this.child.send(message);
  }

  private onMessage(message: FromEngine): void {
    if (message.kind === "reply") {
      const w = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.report) w?.resolve(message.report);
      else w?.reject(new Error(message.error ?? "engine process failed"));
      return;
    }
    if (message.kind !== "store") return;
    const reply = (value?: unknown, error?: string) =>
      this.post({ kind: "store-reply", id: message.id, ...(error === undefined ? { value } : { error }) });
    const [a, b, c, d] = message.args;
    let result: Promise<unknown>;
    switch (message.method) {
      case "read":
        result = this.store.read(a as ObjectRef, b as ObjectKind | undefined);
        break;
      case "write":
        result = this.store.write(
          a as ObjectRef,
          b as string,
          c as StoredObject | undefined,
          d as ObjectKind | undefined,
        );
        break;
      case "remove":
        result = this.store.remove(a as ObjectRef);
        break;
      default:
        result = this.store.listPublishedClusters(a as string, b as string);
    }
    result.then(
      (value) => reply(value),
      (error: unknown) => reply(undefined, String(error)),
    );
  }
}
