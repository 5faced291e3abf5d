import { ECSClient } from "@aws-sdk/client-ecs";
import { S3Client } from "@aws-sdk/client-s3";
import type { AwsCredentialIdentityProvider } from "@aws-sdk/types";
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
  /** The S3 bucket's region, when it is not the clients' (a central bucket). @default `region` */
  s3Region?: string;
  /** Another account's: an assumed role's credentials. @default the SDK's credential chain */
  credentials?: AwsCredentialIdentityProvider;
}

/** The clients that read ECS and EC2 (another account's need no S3 client). */
export type ReadClients = Omit<AwsClients, "s3">;

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
  const common = commonConfig(options.s3Region ? { ...options, region: options.s3Region } : options);
  // Emulators answer on one host name: path-style addressing whenever the endpoint is overridden.
  const forcePathStyle = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  // A central bucket may live in another region than the function: the S3 client follows the redirect.
  const s3 = new S3Client({ ...common, forcePathStyle, followRegionRedirects: true });
  countCalls(s3 as unknown as MiddlewareClient, options.counter);
  return { ...createReadClients(options), s3 };
}

/** ECS now and EC2 on first use, counted and paced, with `options.credentials` when given. */
export function createReadClients(options: ClientOptions): ReadClients {
  const common = commonConfig(options);
  const ecs = new ECSClient(common);
  const pacer = options.pacer ?? new CallPacer();
  countCalls(ecs as unknown as MiddlewareClient, options.counter);
  paceCalls(ecs as unknown as MiddlewareClient, pacer);
  const ec2 = once(async () => {
    const reads = (await import("./ec2-reads.js")).createEc2Reads(common);
    countCalls(reads.client as unknown as MiddlewareClient, options.counter);
    paceCalls(reads.client as unknown as MiddlewareClient, pacer);
    return reads;
  });
  return { ecs, ec2 };
}

function commonConfig(options: ClientOptions) {
  return {
    maxAttempts: options.maxAttempts,
    retryMode: "adaptive" as const,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      // Without it the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
    },
    ...(options.region ? { region: options.region } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
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
