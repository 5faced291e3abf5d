/**
 * The S3 that tests run against: the Node.js stand-in (test/standin/s3/) by default, or moto with
 * `S3_STANDIN=moto` (`npm run test:moto`), so the same suites prove that both behave as the project needs.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { startS3StandIn } from "../standin/s3/index.js";
import { startMoto } from "./moto.js";

export type S3Kind = "node" | "moto";

export interface S3Server {
  url: string;
  port: number;
  kind: S3Kind;
  /** Empties every bucket and forgets them. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Which implementation `startS3()` starts; anything but `node` or `moto` is a mistake worth failing on. */
export function s3Kind(): S3Kind {
  const raw = process.env.S3_STANDIN ?? "node";
  if (raw === "node" || raw === "moto") return raw;
  throw new Error(`S3_STANDIN must be "node" or "moto", got "${raw}"`);
}

/** An S3 on a free loopback port. With S3_STANDIN=moto and no moto installed this throws: tests fail, never skip. */
export async function startS3(): Promise<S3Server> {
  const kind = s3Kind();
  if (kind === "moto") {
    const moto = await startMoto().catch((error: unknown) => {
      throw new Error(
        `S3_STANDIN=moto needs python3's moto (pip install "moto[server]"); unset S3_STANDIN for the ` +
          `Node.js stand-in. ${(error as Error).message}`,
      );
    });
    return { url: moto.url, port: moto.port, kind, reset: () => moto.reset(), stop: () => moto.stop() };
  }
  const standIn = await startS3StandIn();
  return {
    url: standIn.url,
    port: standIn.port,
    kind,
    reset: async () => standIn.reset(),
    stop: () => standIn.close(),
  };
}

/** A client for test set-up and inspection: path style, dummy keys, one attempt. */
export function s3Client(url: string, options: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    endpoint: url,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: options.maxAttempts ?? 1,
  });
}
