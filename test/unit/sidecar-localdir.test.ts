import { mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FsLocalDir } from "../../sidecar/localdir.js";
import { tempDir } from "../support/sidecar-fakes.js";

describe("FsLocalDir", () => {
  it("writes atomically with mode 0644, whatever the umask", async () => {
    const dir = await tempDir();
    const local = new FsLocalDir(dir, "abc");
    const old = process.umask(0o077);
    try {
      await local.writeAtomic("x.json", Buffer.from("[]"));
    } finally {
      process.umask(old);
    }
    expect(await readFile(join(dir, "x.json"), "utf8")).toBe("[]");
    expect((await stat(join(dir, "x.json"))).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(["x.json"]);
  });

  it("leaves no temp file when the rename fails", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, "x.json"));
    await writeFile(join(dir, "x.json", "keep"), "");
    const local = new FsLocalDir(dir, "abc");
    await expect(local.writeAtomic("x.json", Buffer.from("[]"))).rejects.toThrow();
    expect(await readdir(dir)).toEqual(["x.json"]);
  });

  it("replaces a symlink instead of writing through it", async () => {
    const root = await tempDir();
    const dir = join(root, "sd");
    await mkdir(dir);
    await writeFile(join(root, "victim"), "original");
    await symlink(join(root, "victim"), join(dir, "x.json"));
    await new FsLocalDir(dir, "abc").writeAtomic("x.json", Buffer.from("[]"));
    expect(await readFile(join(root, "victim"), "utf8")).toBe("original");
    expect(await readFile(join(dir, "x.json"), "utf8")).toBe("[]");
  });

  it.each(["../x.json", "/etc/x.json", "a/b.json", "..", ".", "", "x\0.json"])(
    "refuses the name %j",
    async (name) => {
      const local = new FsLocalDir(await tempDir(), "abc");
      await expect(local.writeAtomic(name, Buffer.from("[]"))).rejects.toThrow(/not a plain name/);
      await expect(local.remove(name)).rejects.toThrow(/not a plain name/);
      await expect(local.read(name)).rejects.toThrow(/not a plain name/);
    },
  );

  it("knows its own temp files only", () => {
    const local = new FsLocalDir("/nowhere", "abc");
    expect(local.isOwnTempFile(".sidecar-abc-0123.tmp")).toBe(true);
    expect(local.isOwnTempFile(".sidecar-abd-0123.tmp")).toBe(false);
    expect(local.isOwnTempFile(".sidecar-abc.state")).toBe(false);
  });
});
