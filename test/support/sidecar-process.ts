/**
 * The sidecar as a child process (`tsx sidecar/main.ts`), as users run it: its JSON log lines collected as
 * they arrive, its exit awaited. The environment holds only what the SDK needs to reach `endpoint`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

export interface SidecarProcess {
  records: Array<Record<string, unknown>>;
  exit: Promise<number | null>;
  child: ChildProcess;
  /** Kills the process if it is still running. */
  kill(): void;
}

export function spawnSidecar(endpoint: string, args: string[]): SidecarProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "sidecar/main.ts", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_MAX_ATTEMPTS: "1",
    },
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const records: Array<Record<string, unknown>> = [];
  let buffer = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      records.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      buffer = buffer.slice(nl + 1);
    }
  });
  child.stderr?.resume();
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  return { records, exit, child, kill };
}
