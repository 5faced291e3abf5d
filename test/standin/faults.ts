import { type BucketSpec, TokenBucket } from "./token-bucket.js";

/**
 * Faults the stand-in can inject: latency, AWS-like throttling by token bucket, and one-off or random
 * failures by operation and cluster. Everything here is decided before an operation touches the fleet.
 */
export type FaultKind = "throttle" | "5xx" | "timeout" | "accessDenied" | "clusterNotFound";

export interface FaultRule {
  /** API operation name (`ListTasks`, `DescribeInstances`, …); every operation when absent. */
  operation?: string;
  /**
   * Cluster name or ARN: the rule matches only ECS calls whose `cluster` parameter names this cluster
   * (IAM policies scoped to some clusters behave like this). Calls without a `cluster` never match.
   */
  cluster?: string;
  /**
   * Account id: the rule matches only calls about this account. Meant for `standIn.sts.faults` (the role's
   * account for AssumeRole, the caller's for GetCallerIdentity); a fleet's faults only ever see calls
   * of their own account, so there it is redundant.
   */
  account?: string;
  kind: FaultKind;
  /** Fire this many times, then the rule is spent. Unlimited when absent. */
  times?: number;
  /** Fire with this probability per matching call (0..1). Always when absent. */
  probability?: number;
  /** HTTP status for `5xx` (default 500; 503 gives `ServiceUnavailable` on EC2). */
  status?: 500 | 502 | 503 | 504;
}

/**
 * Throttling buckets, one set per account and region as in AWS. ECS shares one bucket between ListTasks,
 * DescribeTasks and DescribeContainerInstances, which is what makes a naive poller fall over on a big fleet;
 * its service read actions (ListServices, DescribeServices) share another. EC2 rate-limits each API on its
 * own bucket (non-mutating actions: 100 burst, 20 per second).
 */
export type BucketName =
  | "ecsTasks"
  | "ecsTaskDefinitions"
  | "ecsClusters"
  | "ecsServices"
  | "ecsOther"
  | "ec2DescribeInstances"
  | "ec2DescribeNetworkInterfaces";

export const DEFAULT_BUCKETS: Readonly<Record<BucketName, BucketSpec>> = {
  ecsTasks: { capacity: 100, refillPerSecond: 20 },
  ecsTaskDefinitions: { capacity: 50, refillPerSecond: 20 },
  ecsClusters: { capacity: 50, refillPerSecond: 20 },
  ecsServices: { capacity: 100, refillPerSecond: 20 },
  ecsOther: { capacity: 50, refillPerSecond: 20 },
  ec2DescribeInstances: { capacity: 100, refillPerSecond: 20 },
  ec2DescribeNetworkInterfaces: { capacity: 100, refillPerSecond: 20 },
};

/** Which AWS token bucket each operation draws from. */
export const BUCKET_OF_OPERATION: Record<string, BucketName> = {
  ListTasks: "ecsTasks",
  DescribeTasks: "ecsTasks",
  DescribeContainerInstances: "ecsTasks",
  DescribeTaskDefinition: "ecsTaskDefinitions",
  ListClusters: "ecsClusters",
  DescribeClusters: "ecsClusters",
  ListServices: "ecsServices",
  DescribeServices: "ecsServices",
  DescribeInstances: "ec2DescribeInstances",
  DescribeNetworkInterfaces: "ec2DescribeNetworkInterfaces",
};

export type LatencySpec = number | { min: number; max: number };

interface ActiveRule extends FaultRule {
  id: string;
  fired: number;
}

export class Faults {
  private latencySpec: LatencySpec = 0;
  private buckets: Map<BucketName, TokenBucket> | undefined;
  private rules: ActiveRule[] = [];
  private nextId = 1;

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Adds this delay (fixed, or uniform in [min, max]) before every answer; 0 turns it off. */
  latency(spec: LatencySpec): void {
    this.latencySpec = spec;
  }

  /**
   * Turns AWS-like throttling on or off. Buckets start full; `buckets` overrides sizes (tests use tiny
   * buckets to hit throttling in a handful of calls).
   */
  throttling(enabled: boolean, buckets: Partial<Record<BucketName, BucketSpec>> = {}): void {
    if (!enabled) {
      this.buckets = undefined;
      return;
    }
    this.buckets = new Map();
    for (const name of Object.keys(DEFAULT_BUCKETS) as BucketName[]) {
      this.buckets.set(name, new TokenBucket(buckets[name] ?? DEFAULT_BUCKETS[name], this.clock));
    }
  }

  /** Adds a failure rule; returns its id for `remove`. Rules are checked in insertion order. */
  inject(rule: FaultRule): string {
    const id = `rule-${this.nextId++}`;
    this.rules.push({ ...rule, id, fired: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  /** How often a rule has fired so far. */
  firedCount(id: string): number {
    return this.rules.find((r) => r.id === id)?.fired ?? 0;
  }

  /** Removes every rule, latency and throttling: back to a healthy API. */
  clear(): void {
    this.rules = [];
    this.latencySpec = 0;
    this.buckets = undefined;
  }

  /** @internal Delay in ms for the next call. */
  delay(): number {
    const spec = this.latencySpec;
    if (typeof spec === "number") return Math.max(0, spec);
    return Math.max(0, spec.min + this.random() * (spec.max - spec.min));
  }

  /** @internal The first matching rule that fires for this call (spending one of its `times`). */
  match(
    operation: string,
    clusterName: string | undefined,
    service: "ecs" | "ec2" | "sts",
    account?: string,
  ): FaultRule | undefined {
    for (const rule of this.rules) {
      // Clusters are an ECS notion: such rules never fire on EC2 or STS calls.
      if (service !== "ecs" && (rule.kind === "clusterNotFound" || rule.cluster !== undefined)) continue;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      if (rule.account !== undefined && rule.account !== account) continue;
      if (rule.cluster !== undefined && (clusterName === undefined || nameOf(rule.cluster) !== clusterName)) {
        continue;
      }
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.fired += 1;
      return rule;
    }
    return undefined;
  }

  /** @internal False when throttling is on and the operation's bucket is empty. */
  admit(operation: string): boolean {
    if (!this.buckets) return true;
    const bucket = this.buckets.get(BUCKET_OF_OPERATION[operation] ?? "ecsOther");
    return bucket ? bucket.tryTake() : true;
  }
}

/** `arn:aws:ecs:r:a:cluster/NAME` or `NAME` → `NAME`. */
export function nameOf(clusterNameOrArn: string): string {
  const slash = clusterNameOrArn.startsWith("arn:") ? clusterNameOrArn.lastIndexOf("/") : -1;
  return slash >= 0 ? clusterNameOrArn.slice(slash + 1) : clusterNameOrArn;
}
