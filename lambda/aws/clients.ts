import { EC2Client } from "@aws-sdk/client-ec2";
import { ECSClient } from "@aws-sdk/client-ecs";
import { S3Client } from "@aws-sdk/client-s3";
import type { CallCounter } from "./call-counter.js";

export interface AwsClients {
  ecs: ECSClient;
  ec2: EC2Client;
  s3: S3Client;
}

interface ClientOptions {
  maxAttempts: number;
  counter: CallCounter;
  region?: string;
  /** Per attempt: an answer that takes longer fails the attempt (and is retried). */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

/**
 * The SDK's own defaults would let one unanswered ECS call hang for 15 minutes (and an S3 call forever),
 * far beyond the function timeout: the whole run would die with every cluster unpublished. Bounded
 * attempts turn a hung endpoint into a failed call for that cluster only, well within the function timeout
 * even after every retry.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 3_000;

/** The part of an SDK client's middleware stack this project plugs into (counting, pacing). */
export interface MiddlewareClient {
  middlewareStack: {
    addRelativeTo(
      middleware: (
        next: (args: unknown) => Promise<unknown>,
        context: { commandName?: string },
      ) => (args: unknown) => Promise<unknown>,
      options: { relation: "before" | "after"; toMiddleware: string; name: string },
    ): void;
  };
}

/**
 * Sits just inside request signing, which the retry middleware runs again for every attempt, and outside
 * the deserializer: every HTTP request is counted, retries included, with the modelled error it turned
 * into (a throttle, say).
 */
export function countCalls(client: MiddlewareClient, counter: CallCounter): void {
  client.middlewareStack.addRelativeTo(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? "Unknown").replace(/Command$/, "");
      try {
        const result = await next(args);
        counter.record(operation);
        return result;
      } catch (error) {
        counter.record(operation, error);
        throw error;
      }
    },
    { relation: "after", toMiddleware: "httpSigningMiddleware", name: "prometheusEcsDiscoveryCallCounter" },
  );
}

/**
 * Standard SDK configuration throughout (credential chain, AWS_REGION, AWS_ENDPOINT_URL_*), with the
 * adaptive retry mode, whose client-side rate limiter backs off as soon as ECS starts throttling.
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
  const ec2 = new EC2Client(common);
  // Emulators answer on one host name: path-style addressing whenever the endpoint is overridden.
  const forcePathStyle = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  const s3 = new S3Client({ ...common, forcePathStyle });
  for (const client of [ecs, ec2, s3]) countCalls(client as unknown as MiddlewareClient, options.counter);
  return { ecs, ec2, s3 };
}
