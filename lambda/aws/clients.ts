import { ECSClient } from "@aws-sdk/client-ecs";
import { S3Client } from "@aws-sdk/client-s3";
import { type CallCounter, countCalls } from "./call-counter.js";
import type { Ec2Loader } from "./ecs-read-api.js";
import type { MiddlewareClient } from "./middleware.js";
import { CallPacer, paceCalls } from "./pacing.js";

export interface AwsClients {
  ecs: ECSClient;
  /** Created on first use, counted and paced like the others: see ec2-reads.ts for why. */
  ec2: Ec2Loader;
  s3: S3Client;
}

export interface ClientOptions {
  maxAttempts: number;
  counter: CallCounter;
  region?: string;
  /** Per attempt: an answer that takes longer fails the attempt (and is retried). */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  /** Paces ECS and EC2 reads to AWS's token buckets; one per account and region. @default a new one */
  pacer?: CallPacer;
}

/**
 * The SDK's own defaults would let one unanswered ECS call hang for 15 minutes (and an S3 call forever),
 * far beyond the function timeout: the whole run would die with every cluster unpublished. Bounded
 * attempts turn a hung endpoint into a failed call for that cluster only, well within the function timeout
 * even after every retry.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 3_000;

/**
 * Standard SDK configuration throughout (credential chain, AWS_REGION, AWS_ENDPOINT_URL_*), with the
 * adaptive retry mode, whose client-side rate limiter backs off as soon as ECS starts throttling. Every
 * request attempt of every client is counted; the ECS and EC2 reads are also paced to AWS's token
 * buckets (S3 has no bucket to pace to).
 */
export function createClients(options: ClientOptions): AwsClients {
  const common = {
    maxAttempts: options.maxAttempts,
    retryMode: "adaptive" as const,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      // Without it the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
    ...(options.region ? { region: options.region } : {}),
  };
  const ecs = new ECSClient(common);
  // Emulators answer on one host name: path-style addressing whenever the endpoint is overridden.
  const forcePathStyle = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  const s3 = new S3Client({ ...common, forcePathStyle });
  const pacer = options.pacer ?? new CallPacer();
  for (const client of [ecs, s3]) countCalls(client as unknown as MiddlewareClient, options.counter);
  paceCalls(ecs as unknown as MiddlewareClient, pacer);
  const ec2 = once(async () => {
    const reads = (await import("./ec2-reads.js")).createEc2Reads(common);
    countCalls(reads.client as unknown as MiddlewareClient, options.counter);
    paceCalls(reads.client as unknown as MiddlewareClient, pacer);
    return reads;
  });
  return { ecs, ec2, s3 };
}

/** One client for every caller, however many ask at once; a failed load is tried again on the next call. */
function once<T>(create: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= create().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
