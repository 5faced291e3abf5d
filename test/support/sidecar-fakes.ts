import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsLocalDir } from "../../sidecar/localdir.js";
import { memoryLogger } from "../../sidecar/log.js";
import { SidecarMetrics } from "../../sidecar/metrics.js";
import type { GetOptions, GetResult, ListedObject, ObjectStore } from "../../sidecar/store.js";
import { Syncer, type SyncOptions, syncId } from "../../sidecar/sync.js";

/** An in-memory ObjectStore with request counters and fault switches. */
export class FakeStore implements ObjectStore {
  readonly objects = new Map<string, { body: Uint8Array; etag: string }>();
  lists = 0;
  gets: string[] = [];
  failList = false;
  failGet = new Set<string>();
  /** Runs inside get() before answering (e.g. to abort mid-poll). */
  onGet: ((key: string) => void) | undefined;

  put(key: string, body: string | Uint8Array): void {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    this.objects.set(key, { body: bytes, etag: `"${createHash("md5").update(bytes).digest("hex")}"` });
  }

  async list(prefix: string): Promise<ListedObject[]> {
    this.lists++;
    if (this.failList) throw new Error("simulated list failure");
    return [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, o]) => ({ key, etag: o.etag, size: o.body.byteLength }));
  }

  async get(key: string, { ifNoneMatch, maxBytes }: GetOptions): Promise<GetResult> {
    this.gets.push(key);
    this.onGet?.(key);
    if (this.failGet.has(key)) throw new Error("simulated get failure");
    const object = this.objects.get(key);
    if (!object) return { status: "not_found" };
    if (ifNoneMatch === object.etag) return { status: "not_modified" };
    if (object.body.byteLength > maxBytes) return { status: "too_large", size: object.body.byteLength };
    return { status: "ok", body: object.body, etag: object.etag };
  }
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "sidecar-test-"));
}

export function makeSyncer(store: ObjectStore, dir: string, options: Partial<SyncOptions> = {}) {
  const logger = memoryLogger();
  const metrics = new SidecarMetrics();
  const opts: SyncOptions & { bucket: string } = {
    bucket: "bkt",
    prefix: "targets/",
    maxObjectBytes: 1024 * 1024,
    ...options,
  };
  const syncer = new Syncer(
    store,
    new FsLocalDir(dir, syncId(opts.bucket, opts.prefix)),
    opts,
    logger,
    metrics,
  );
  return { syncer, logger, metrics };
}

export async function jsonFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    if (name.endsWith(".json")) out[name] = await readFile(join(dir, name), "utf8");
  }
  return out;
}

export async function writeText(dir: string, name: string, text: string): Promise<void> {
  await writeFile(join(dir, name), text);
}

export function group(target: string, labels: Record<string, string> = {}): string {
  return JSON.stringify([{ targets: [target], labels }]);
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
