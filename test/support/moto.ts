import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "./ports.js";

/** Re-exported for the benchmarks, which import it from here. */
export { freePort };

/** A moto server (S3, and ECS/EC2 when a test wants moto's own model) on a free loopback port. */
export interface MotoServer {
  url: string;
  port: number;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `python3 -m moto.server`. moto ships with the machine image's python3; when it is missing this
 * throws (tests fail, never skip), with the reason in the message.
 */
export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const state = await Promise.race([
      exited.then((code) => ({ code })),
      new Promise((r) => setTimeout(r, 100)),
    ]);
    if (state && typeof state === "object" && "code" in state) {
      throw new Error(
        `moto server exited (code ${String(state.code)}) before it was ready: ${stderr.trim()}`,
      );
    }
    try {
      const res = await fetch(`${url}/moto-api/`);
      if (res.ok || res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`moto server did not answer on ${url} within 20 s: ${stderr.trim()}`);
    }
  }
  return {
    url,
    port,
    async reset() {
      await fetch(`${url}/moto-api/reset`, { method: "POST" });
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/**
 * moto advances ECS tasks to RUNNING on its own clock unless told otherwise: with this, a task stays in the
 * status it was given (RunTask's tasks are RUNNING), so tests see what they set up.
 */
export async function holdEcsTaskStatus(moto: MotoServer): Promise<void> {
  await fetch(`${moto.url}/moto-api/state-manager/set-transition`, {
    method: "POST",
    body: JSON.stringify({
      model_name: "ecs::task",
      transition: { progression: "manual", times: 1_000_000 },
    }),
  });
}
