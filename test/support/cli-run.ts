/** The CLI (lambda/cli.ts) as a user runs it, for the integration tests. */
import { spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: its own process, configured only through flags and the environment. */
export function cli(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const clean: NodeJS.ProcessEnv = {};
  // Nothing of this machine's AWS setup may leak in: the CLI must get all of it from `env`.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_")) clean[k] = v;
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", "lambda/cli.ts", ...args], {
      cwd: ROOT,
      env: {
        ...clean,
        AWS_CONFIG_FILE: "/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
        AWS_EC2_METADATA_DISABLED: "true",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("exit", (code) => done({ code, stdout, stderr }));
  });
}

export interface Group {
  targets: string[];
  labels: Record<string, string>;
}

export const tmp = () => mkdtemp(join(tmpdir(), "ecs-sd-cli-"));
export const readJson = async <T>(path: string) => JSON.parse(await readFile(path, "utf-8")) as T;
