import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { flatFileName, type ObjectRef, type StoredObject, type TargetOutput } from "./target-output.js";

function etagOf(body: string): string {
  return `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`;
}

/**
 * file_sd files in one directory, named as the sidecar names them. Each write goes to a temp file in the
 * same directory, is flushed, then renamed over the target, so Prometheus never reads half a file.
 */
export class DirectoryTargetOutput implements TargetOutput {
  readonly location: string;

  constructor(dir: string) {
    this.location = resolve(dir);
  }

  locationOf(ref: ObjectRef): string {
    return join(this.location, flatFileName(ref));
  }

  async read(ref: ObjectRef): Promise<StoredObject | undefined> {
    try {
      const body = await readFile(this.locationOf(ref), "utf-8");
      return { body, etag: etagOf(body) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async write(
    ref: ObjectRef,
    body: string,
    expected: StoredObject | undefined,
  ): Promise<"written" | "conflict"> {
    const current = await this.read(ref);
    if ((current?.etag ?? null) !== (expected?.etag ?? null)) return "conflict";
    await mkdir(this.location, { recursive: true });
    const target = this.locationOf(ref);
    const temp = join(this.location, `.${flatFileName(ref)}.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(temp, "w", 0o644);
    try {
      await handle.writeFile(body, "utf-8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return "written";
  }

  async remove(ref: ObjectRef): Promise<void> {
    await rm(this.locationOf(ref), { force: true });
  }

  async listClusters(accountId: string, region: string): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const prefix = `${accountId}_${region}_`;
    return entries
      .filter((f) => f.startsWith(prefix) && f.endsWith(".json"))
      .map((f) => f.slice(prefix.length, -".json".length))
      .filter((name) => /^[A-Za-z0-9_-]{1,255}$/.test(name));
  }
}
