/** The filesystem side of the sync: one directory, plain names only, atomic writes. */
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chmod, mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, join } from "node:path";

export interface LocalDir {
  readonly path: string;
  ensure(): Promise<void>;
  /** Names of the entries in the directory (no recursion). */
  listNames(): Promise<string[]>;
  /** A file's bytes, or undefined when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** A file's SHA-256 (hex), or undefined when it does not exist. */
  hash(name: string): Promise<string | undefined>;
  /** Temp file in the same directory, fsync, chmod 0644, rename, fsync the directory. */
  writeAtomic(name: string, data: Uint8Array): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  remove(name: string): Promise<void>;
  /** True for the names of this writer's own temp files (stale ones are removed at start). */
  isOwnTempFile(name: string): boolean;
}

/** Refuses anything but one plain file name: the last line of defence against writing outside the directory. */
export function assertPlainName(name: string): void {
  if (name.length === 0 || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new Error(`refusing file name ${JSON.stringify(name)}: not a plain name`);
  }
  if (basename(name) !== name)
    throw new Error(`refusing file name ${JSON.stringify(name)}: not a plain name`);
}

export class FsLocalDir implements LocalDir {
  private readonly tempPrefix: string;

  /** `tempTag` distinguishes this writer's temp files from those of another writer sharing the directory. */
  constructor(
    readonly path: string,
    tempTag: string,
  ) {
    this.tempPrefix = `.sidecar-${tempTag}-`;
  }

  async ensure(): Promise<void> {
    await mkdir(this.path, { recursive: true });
  }

  async listNames(): Promise<string[]> {
    return (await readdir(this.path)).sort();
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    assertPlainName(name);
    try {
      return await readFile(join(this.path, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async hash(name: string): Promise<string | undefined> {
    assertPlainName(name);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(join(this.path, name), constants.O_RDONLY);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      // A bounded buffer, reused: the file can be as large as the largest object.
      const hash = createHash("sha256");
      const chunk = Buffer.allocUnsafe(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) return hash.digest("hex");
        hash.update(chunk.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
  }

  isOwnTempFile(name: string): boolean {
    return name.startsWith(this.tempPrefix) && name.endsWith(".tmp");
  }

  async writeAtomic(name: string, data: Uint8Array): Promise<void> {
    assertPlainName(name);
    // The temp name never ends in .json, so a Prometheus glob on *.json never sees a half-written file.
    const temp = join(this.path, `${this.tempPrefix}${randomBytes(6).toString("hex")}.tmp`);
    let renamed = false;
    try {
      // O_EXCL: never follows or reuses an existing path.
      const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await chmod(temp, 0o644); // whatever the umask says
      await rename(temp, join(this.path, name));
      renamed = true;
      await this.syncDir();
    } finally {
      if (!renamed) await unlink(temp).catch(() => {});
    }
  }

  async remove(name: string): Promise<void> {
    assertPlainName(name);
    try {
      await unlink(join(this.path, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    // Makes the rename/unlink durable; some filesystems refuse fsync on a directory, which is harmless.
    try {
      const handle = await open(this.path, constants.O_RDONLY);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // best effort
    }
  }
}
