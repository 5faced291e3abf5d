import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { clusterNamesOfFiles, flatFileName } from "../shared/file-sd.js";
import type { ObjectKind, ObjectRef, StoredObject, TargetOutput } from "./target-output.js";

function etagOf(body: string): string {
  return `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`;
}

/** A missing file or directory is no error here: it means nothing was written yet. */
function absentAsUndefined(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  throw error;
}

/** Atomically replaces `target`: temp file in the same directory, flushed, then renamed over it. */
export async function writeFileAtomic(target: string, body: string): Promise<void> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "w", 0o644);
  try {
    try {
      await handle.writeFile(body, "utf-8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    // A full disk fails the write half-way: the partial temp file must not stay behind.
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * file_sd files in one directory, named as the sidecar names them, so Prometheus never reads half a
 * file; the engine's state sits in a `.state/` subdirectory that a `*.json` glob does not reach.
 */
export class DirectoryTargetOutput implements TargetOutput {
  readonly location: string;

  constructor(dir: string) {
    this.location = resolve(dir);
  }

  locationOf(ref: ObjectRef, kind: ObjectKind = "targets"): string {
    return kind === "state"
      ? join(this.location, ".state", flatFileName(ref))
      : join(this.location, flatFileName(ref));
  }

  async read(ref: ObjectRef, kind: ObjectKind = "targets"): Promise<StoredObject | undefined> {
    const body = await readFile(this.locationOf(ref, kind), "utf-8").catch(absentAsUndefined);
    return body === undefined ? undefined : { body, etag: etagOf(body) };
  }

  readonly write: TargetOutput["write"] = async (ref, body, expected, kind = "targets") => {
    const current = await this.read(ref, kind);
    if ((current?.etag ?? null) !== (expected?.etag ?? null)) return undefined;
    await writeFileAtomic(this.locationOf(ref, kind), body);
    return etagOf(body);
  };

  async remove(ref: ObjectRef): Promise<void> {
    // State first, as in S3: a clean-up that dies in between leaves the file the next one looks for.
    await rm(this.locationOf(ref, "state"), { force: true });
    await rm(this.locationOf(ref, "targets"), { force: true });
  }

  async listPublishedClusters(accountId: string, region: string): Promise<string[]> {
    const entries = await readdir(this.location).catch(absentAsUndefined);
    return clusterNamesOfFiles(entries ?? [], accountId, region);
  }
}
