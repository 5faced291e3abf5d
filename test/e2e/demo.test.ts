import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/demo/run-demo.ts", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.on("exit", (code) => done({ code, out }));
  });
}

// The README's first quickstart command: it must keep working end to end, Prometheus included (CI has it).
describe("npm run demo", () => {
  it("runs stand-in → Lambda → S3 → sidecar → files → Prometheus, and the fast path makes no ECS call", async () => {
    const work = await mkdtemp(join(tmpdir(), "demo-"));
    const { code, out } = await run(["--clusters", "2", "--tasks", "30", "--seed", "3", "--work-dir", work]);
    expect(out).not.toMatch(/demo failed/);
    expect(code).toBe(0);
    expect(out).toMatch(/ok: \d+ tasks, \d+ targets; objects 2 written/);
    // Both events are applied by the warm function from its caches and the recorded state: no ECS call (a new
    // Fargate task's public IP costs one EC2 DescribeNetworkInterfaces).
    expect(out.match(/ECS calls: none; EC2 calls: (none|DescribeNetworkInterfaces 1);/g)).toHaveLength(2);
    const discovered = /Prometheus discovered all (\d+) targets; (\d+) up/.exec(out);
    expect(
      discovered,
      "Prometheus must be installed for this test (apt-get install prometheus)",
    ).not.toBeNull();

    const dir = join(work, "file_sd");
    const files = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
    expect(files).toEqual([
      "123456789012_us-east-1_cluster-01.json",
      "123456789012_us-east-1_cluster-02.json",
    ]);
    let groups = 0;
    for (const f of files) groups += (JSON.parse(await readFile(join(dir, f), "utf-8")) as unknown[]).length;
    expect(Number(discovered?.[1])).toBe(groups);
    await rm(work, { recursive: true, force: true });
  }, 180_000);
});
