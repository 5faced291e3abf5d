/**
 * S3 clients for buckets that may live in several regions (a bucket per region, read by one sidecar).
 *
 * One client with the SDK's `followRegionRedirects` reads a bucket of any region, but the SDK does not
 * remember a redirect: every request to a bucket outside the client's region goes to the wrong region
 * first, is answered 301 with the bucket's region, and is sent again. That doubles the requests of every
 * poll for such a bucket, and while it follows a redirect the client signs its other requests for the
 * other region too (which S3 redirects in turn). So each bucket is read through a client of its own
 * region: the region given (`--bucket name@region`), or the one S3 names in the first redirect, learned
 * once and kept for the life of the process. Clients are made per region, on first use, and shared by the
 * buckets of that region; every one still follows redirects, so a wrong guess costs one redirect, never
 * a failure.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { httpStatusOf, isRecord } from "../lambda/shared/values.js";
import type { Logger } from "./log.js";

/** Makes a client for `region`, or for the SDK's default region (AWS_REGION and so on) when undefined. */
export type ClientFactory = (region: string | undefined) => S3Client;

const DEFAULT = "";
const REGION_HEADER = "x-amz-bucket-region";

/** The region S3 names when it redirects a request: a 301 (or a 400 for an opt-in region), with the header. */
export function redirectRegion(error: unknown): string | undefined {
  const status = httpStatusOf(error);
  if (status !== 301 && status !== 400) return undefined;
  const response =
    isRecord(error) || error instanceof Error ? (error as { $response?: unknown }).$response : undefined;
  const headers = isRecord(response) ? response.headers : undefined;
  const region = isRecord(headers) ? headers[REGION_HEADER] : undefined;
  return typeof region === "string" && /^[a-z0-9-]{1,40}$/.test(region) ? region : undefined;
}

export class RegionalClients {
  /** Region ("" for the default one) → its client. */
  private readonly clients = new Map<string, S3Client>();
  /** Bucket → the region S3 said it is in. */
  private readonly learned = new Map<string, string>();

  constructor(
    private readonly make: ClientFactory,
    private readonly logger: Logger,
  ) {}

  /**
   * The client to reach `bucket` with now: that of the region S3 named for it, else of `region` (as
   * configured), else of the default region. Ask again for each request: a region learned meanwhile wins.
   */
  clientFor(bucket: string, region?: string): S3Client {
    const key = this.learned.get(bucket) ?? region ?? DEFAULT;
    let client = this.clients.get(key);
    if (!client) {
      client = this.make(key === DEFAULT ? undefined : key);
      this.watchRedirects(client, key);
      this.clients.set(key, client);
    }
    return client;
  }

  /** Regions with a client so far ("" is the default region's). */
  regions(): string[] {
    return [...this.clients.keys()].sort();
  }

  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }

  /** Learns a bucket's region from S3's redirect; the SDK then follows the redirect as usual. */
  private watchRedirects(client: S3Client, clientRegion: string): void {
    client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          const bucket = isRecord(args.input) ? args.input.Bucket : undefined;
          const region = redirectRegion(error);
          if (typeof bucket === "string" && region !== undefined) this.learn(bucket, region, clientRegion);
          throw error;
        }
      },
      // Inside the SDK's redirect middleware (initialize), which would otherwise swallow the 301.
      { step: "build", name: "learnBucketRegion" },
    );
  }

  private learn(bucket: string, region: string, clientRegion: string): void {
    if (this.learned.get(bucket) === region) return;
    this.learned.set(bucket, region);
    this.logger.log("info", "bucket_region_learned", {
      bucket,
      region,
      asked_region: clientRegion || undefined,
      note: `S3 redirected a request: the bucket is read through a ${region} client from now on (--bucket ${bucket}@${region} skips the redirect)`,
    });
  }
}
