/**
 * One Lambda execution environment for the benchmark, run as a child process so its memory is its own:
 * the real SDK clients over HTTP (to the stand-in named by AWS_ENDPOINT_URL_*), module-scope caches, and
 * `invoke()`, the handler's own path from raw event to summary. Only the S3 output is replaced, by a store
 * in the driver process, and the time spent waiting for it is measured so it can be left out.
 */
import { composeEngine } from "../../lambda/compose.js";
import { loadEngineConfig } from "../../lambda/config.js";
import type { Log } from "../../lambda/engine/deps.js";
import { ClusterListingError } from "../../lambda/engine/summary.js";
import { run as invoke } from "../../lambda/invoke.js";
import type {
  ObjectKind,
  ObjectRef,
  StoredObject,
  TargetOutput,
} from "../../lambda/publish/target-output.js";
import { objectKey } from "../../lambda/shared/file-sd.js";
import type { FromEngine, InvokeReport, StoreMethod, ToEngine } from "./protocol.js";

const started = performance.now();
const send = (message: FromEngine) => process.send?.(message);

const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextStoreCall = 1;

/** Union of the intervals with a store call in flight: parallel reads count once, as they would in S3. */
const storage = { inFlight: 0, since: 0, busyMs: 0, calls: 0 };

function storeCall(method: StoreMethod, args: unknown[]): Promise<unknown> {
  const id = nextStoreCall++;
  storage.calls++;
  if (storage.inFlight++ === 0) storage.since = performance.now();
  return new Promise<unknown>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    send({ kind: "store", id, method, args });
  }).finally(() => {
    if (--storage.inFlight === 0) storage.busyMs += performance.now() - storage.since;
  });
}

class DriverStoreOutput implements TargetOutput {
  readonly location: string;
  constructor(private readonly name: string) {
    this.location = `memory://${name}/targets/`;
  }
  locationOf(ref: ObjectRef, kind: ObjectKind = "targets"): string {
    return `memory://${this.name}/${objectKey(kind === "state" ? "state/" : "targets/", ref)}`;
  }
  read(ref: ObjectRef, kind?: ObjectKind): Promise<StoredObject | undefined> {
    return storeCall("read", [ref, kind]) as Promise<StoredObject | undefined>;
  }
  write(
    ref: ObjectRef,
    body: string,
    expected: StoredObject | undefined,
    kind?: ObjectKind,
  ): Promise<string | undefined> {
    return storeCall("write", [ref, body, expected, kind]) as Promise<string | undefined>;
  }
  async remove(ref: ObjectRef): Promise<void> {
    await storeCall("remove", [ref]);
  }
  listPublishedClusters(accountId: string, region: string): Promise<string[]> {
    return storeCall("listPublishedClusters", [accountId, region]) as Promise<string[]>;
  }
}

const logCounts = { warn: 0, error: 0, conflicts: 0, firstProblems: [] as string[] };
const note = (level: "warn" | "error") => (message: string, attributes?: Record<string, unknown>) => {
  logCounts[level]++;
  if (logCounts.firstProblems.length < 5)
    logCounts.firstProblems.push(`${level}: ${message} ${attributes ? JSON.stringify(attributes) : ""}`);
};
// Logging stays out of the figures: the Lambda's JSON lines go to CloudWatch asynchronously.
const log: Log = {
  debug: () => {},
  info: (message) => {
    if (message.startsWith("objects changed since they were read")) logCounts.conflicts++;
  },
  warn: note("warn"),
  error: note("error"),
};

const { deps } = composeEngine({
  config: loadEngineConfig(process.env),
  log,
  region: process.env.AWS_REGION ?? "us-east-1",
  output: new DriverStoreOutput(process.env.BENCH_STORE ?? "default"),
});

// The handler takes its own account id from the invocation context (invokedFunctionArn), so a function
// with ACCOUNTS never asks STS who it is; BENCH_FUNCTION_ACCOUNT plays that context.
const functionAccount = process.env.BENCH_FUNCTION_ACCOUNT;
const invokeDeps = functionAccount ? { ...deps, accountId: functionAccount } : deps;

async function run(event: unknown): Promise<InvokeReport> {
  Object.assign(storage, { busyMs: 0, calls: 0 });
  Object.assign(logCounts, { warn: 0, error: 0, conflicts: 0, firstProblems: [] });
  const t0 = performance.now();
  let summary: InvokeReport["summary"];
  try {
    ({ summary } = await invoke(event, invokeDeps));
  } catch (error) {
    if (!(error instanceof ClusterListingError)) throw error;
    summary = error.summary;
  }
  const wallMs = performance.now() - t0;
  const { targetGroups: _, ...rest } = summary as InvokeReport["summary"] & { targetGroups?: unknown };
  return {
    summary: rest,
    wallMs,
    storageMs: storage.busyMs,
    storageCalls: storage.calls,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    log: { ...logCounts, firstProblems: [...logCounts.firstProblems] },
  };
}

process.on("message", (message: ToEngine) => {
  if (message.kind === "store-reply") {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(message.error));
    else waiter?.resolve(message.value);
    return;
  }
  run(message.event).then(
    (report) => send({ kind: "reply", id: message.id, report }),
    (error: unknown) =>
      send({ kind: "reply", id: message.id, error: String((error as Error)?.stack ?? error) }),
  );
});
process.on("disconnect", () => process.exit(0));
send({ kind: "ready", initMs: performance.now() - started });
