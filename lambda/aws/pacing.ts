import { type MiddlewareClient, operationOf } from "./middleware.js";

/**
 * Client-side token buckets with AWS's published sizes for the ECS and EC2 reads discovery makes. A
 * reconcile of a large fleet needs far more calls than the burst allows; sending them as fast as the
 * code can only earns throttling errors, retries with growing back-off, and a wall time well above what
 * the bucket permits. Waiting for a token before each attempt spends exactly the refill rate instead.
 * Other callers in the account share AWS's bucket, so throttles can still happen; the SDK's adaptive
 * retries deal with those.
 */

export interface BucketSize {
  burst: number;
  perSecond: number;
}

/** Per account and region, as ECS and EC2 document them; operations not listed are not paced. */
export const AWS_BUCKETS: Record<string, { bucket: string; size: BucketSize }> = {
  ListTasks: { bucket: "ecs-tasks", size: { burst: 100, perSecond: 20 } },
  DescribeTasks: { bucket: "ecs-tasks", size: { burst: 100, perSecond: 20 } },
  DescribeContainerInstances: { bucket: "ecs-tasks", size: { burst: 100, perSecond: 20 } },
  DescribeTaskDefinition: { bucket: "ecs-task-definitions", size: { burst: 50, perSecond: 20 } },
  ListClusters: { bucket: "ecs-clusters", size: { burst: 50, perSecond: 20 } },
  DescribeClusters: { bucket: "ecs-clusters", size: { burst: 50, perSecond: 20 } },
  DescribeInstances: { bucket: "ec2-describe-instances", size: { burst: 100, perSecond: 20 } },
};

const SLACK_TOKENS = 1;

class Bucket {
  private tokens: number;
  private last: number;
  // Waiters are served in arrival order, so one cluster's paging cannot starve another's.
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly size: BucketSize,
    private readonly now: () => number,
  ) {
    this.tokens = size.burst;
    this.last = now();
  }

  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill();
      // AWS starts counting when the first request of a burst arrives, and later requests may arrive
      // sooner after sending than that one did. Keeping one token in hand absorbs up to a refill
      // interval (50 ms) of such jitter; the leftover counts towards the next call, so the sustained
      // rate is still the full refill rate.
      while (this.tokens < 1 + SLACK_TOKENS) {
        const wait = ((1 + SLACK_TOKENS - this.tokens) / this.size.perSecond) * 1000;
        await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
        this.refill();
      }
      this.tokens -= 1;
    });
    this.queue = turn;
    return turn;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.size.burst, this.tokens + ((now - this.last) * this.size.perSecond) / 1000);
    this.last = now;
  }
}

export class CallPacer {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Resolves when `operation` may be sent; at once for operations without a bucket. */
  async admit(operation: string): Promise<void> {
    const spec = AWS_BUCKETS[operation];
    if (!spec) return;
    let bucket = this.buckets.get(spec.bucket);
    if (!bucket) {
      bucket = new Bucket(spec.size, this.now);
      this.buckets.set(spec.bucket, bucket);
    }
    await bucket.take();
  }
}

/**
 * Inside the retry loop and before signing: every attempt, retries included, waits for its token, as
 * every attempt costs one at AWS.
 */
export function paceCalls(client: MiddlewareClient, pacer: CallPacer): void {
  client.middlewareStack.addRelativeTo(
    (next, context) => async (args) => {
      await pacer.admit(operationOf(context));
      return next(args);
    },
    { relation: "before", toMiddleware: "httpSigningMiddleware", name: "prometheusEcsDiscoveryPacer" },
  );
}
