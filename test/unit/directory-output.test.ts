import { mkdir, mkdtemp, open, readdir, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { writeFileAtomic } from "../../lambda/publish/directory-output.js";

const tmp = () => mkdtemp(join(tmpdir(), "ecs-sd-dirout-"));

/** FileHandle is not exported by node:fs/promises; take its prototype from a real handle. */
async function fileHandlePrototype(
  dir: string,
): Promise<{ writeFile: (...args: unknown[]) => Promise<void> }> {
  const handle = await open(join(dir, "probe"), "w");
  const proto = Object.getPrototypeOf(handle);
  await handle.close();
  return proto;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("writeFileAtomic (the CLI's --out-dir files)", () => {
  it("replaces the file whole, with mode 0644", async () => {
    const dir = await tmp();
    const target = join(dir, "a.json");
    await writeFileAtomic(target, "[]\n");
    await writeFileAtomic(target, '[{"targets":["10.0.0.1:80"],"labels":{}}]\n');
    expect(await readFile(target, "utf-8")).toBe('[{"targets":["10.0.0.1:80"],"labels":{}}]\n');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(["a.json"]);
  });

  it("leaves neither a temp file nor a changed file when the write fails half-way (disk full)", async () => {
    const dir = await tmp();
    const target = join(dir, "a.json");
    await writeFileAtomic(target, "[]\n");
    const proto = await fileHandlePrototype(dir);
    vi.spyOn(proto, "writeFile").mockRejectedValueOnce(
      Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }),
    );
    await expect(writeFileAtomic(target, '[{"targets":["10.0.0.1:80"]}]\n')).rejects.toThrow(/ENOSPC/);
    expect((await readdir(dir)).sort()).toEqual(["a.json", "probe"]);
    expect(await readFile(target, "utf-8")).toBe("[]\n");
  });

  it("leaves no temp file when the rename fails", async () => {
    const dir = await tmp();
    const target = join(dir, "taken");
    await mkdir(target);
    await expect(writeFileAtomic(target, "[]\n")).rejects.toThrow();
    expect(await readdir(dir)).toEqual(["taken"]);
  });
});
