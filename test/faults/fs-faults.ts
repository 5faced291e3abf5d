/**
 * Filesystem faults for the sidecar, injected beneath its real LocalDir (vi.mock of node:fs/promises in
 * the test file), so the sidecar's own temp-file-and-rename code is what meets them:
 * - a disk that fills up in the middle of writing a file (half the bytes land, then ENOSPC);
 * - a read-only directory (EROFS on every create, rename and unlink), for when chmod cannot stop the
 *   writer because the tests run as root.
 * Every rename onto a `*.json` name is checked: what Prometheus can see must always be complete file_sd.
 */
import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { validateFileSd } from "../../lambda/shared/file-sd.js";

type FsPromises = typeof import("node:fs/promises");

export interface RenameRecord {
  to: string;
  ok: boolean;
  reason?: string;
}

export const fsFaults: {
  diskFullIn: string | undefined;
  readOnlyIn: string | undefined;
  injected: number;
  renamed: RenameRecord[];
} = { diskFullIn: undefined, readOnlyIn: undefined, injected: 0, renamed: [] };

export function resetFsFaults(): void {
  fsFaults.diskFullIn = undefined;
  fsFaults.readOnlyIn = undefined;
  fsFaults.injected = 0;
  fsFaults.renamed = [];
}

function inside(dir: string | undefined, path: unknown): boolean {
  if (dir === undefined) return false;
  const full = resolve(String(path));
  return full === dir || full.startsWith(dir + sep);
}

function errno(code: "ENOSPC" | "EROFS", syscall: string, path: unknown): NodeJS.ErrnoException {
  const text = code === "ENOSPC" ? "no space left on device" : "read-only file system";
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${String(path)}'`), {
    code,
    errno: code === "ENOSPC" ? -28 : -30,
    syscall,
    path: String(path),
  });
}

function creates(flags: unknown): boolean {
  if (typeof flags === "number") return (flags & constants.O_CREAT) !== 0;
  return /[wax]/.test(String(flags ?? "r"));
}

export function faultyFs(real: FsPromises): FsPromises {
  const open = (async (path: Parameters<FsPromises["open"]>[0], flags?: unknown, mode?: unknown) => {
    if (creates(flags) && inside(fsFaults.readOnlyIn, path)) {
      fsFaults.injected++;
      throw errno("EROFS", "open", path);
    }
    const handle = await real.open(path, flags as never, mode as never);
    if (!creates(flags) || !inside(fsFaults.diskFullIn, path)) return handle;
    const full: Partial<FileHandle> = {
      fd: handle.fd,
      async writeFile(data: Parameters<FileHandle["writeFile"]>[0]) {
        const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data as Uint8Array);
        await handle.write(bytes.subarray(0, Math.floor(bytes.byteLength / 2)));
        fsFaults.injected++;
        throw errno("ENOSPC", "write", path);
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
    return full as FileHandle;
  }) as FsPromises["open"];

  const rename = (async (
    from: Parameters<FsPromises["rename"]>[0],
    to: Parameters<FsPromises["rename"]>[1],
  ) => {
    if (inside(fsFaults.readOnlyIn, to)) {
      fsFaults.injected++;
      throw errno("EROFS", "rename", to);
    }
    if (String(to).endsWith(".json")) {
      const check = validateFileSd(await real.readFile(from));
      fsFaults.renamed.push(
        check.ok ? { to: String(to), ok: true } : { to: String(to), ok: false, reason: check.reason },
      );
    }
    return real.rename(from, to);
  }) as FsPromises["rename"];

  const unlink = (async (path: Parameters<FsPromises["unlink"]>[0]) => {
    if (inside(fsFaults.readOnlyIn, path)) {
      fsFaults.injected++;
      throw errno("EROFS", "unlink", path);
    }
    return real.unlink(path);
  }) as FsPromises["unlink"];

  const overrides = { open, rename, unlink };
  return { ...real, ...overrides, default: { ...real, ...overrides } } as FsPromises;
}
