/** Counts AWS requests by operation, each attempt separately, so retries and throttles show in summaries. */
export interface CallCounts {
  calls: Record<string, number>;
  throttles: Record<string, number>;
  errors: Record<string, number>;
}

const THROTTLE_CODES = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "SlowDown",
  "RequestThrottled",
  "RequestThrottledException",
]);

export function isThrottle(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return THROTTLE_CODES.has(e?.name ?? "") || e?.$metadata?.httpStatusCode === 429;
}

export class CallCounter {
  private counts: CallCounts = { calls: {}, throttles: {}, errors: {} };

  record(operation: string, error?: unknown): void {
    this.counts.calls[operation] = (this.counts.calls[operation] ?? 0) + 1;
    if (error === undefined) return;
    const bucket = isThrottle(error) ? this.counts.throttles : this.counts.errors;
    bucket[operation] = (bucket[operation] ?? 0) + 1;
  }

  snapshot(): CallCounts {
    return structuredClone(this.counts);
  }

  /** What happened since `before`, for per-invocation figures from module-scope clients. */
  since(before: CallCounts): CallCounts {
    const diff = (now: Record<string, number>, then: Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const [op, n] of Object.entries(now)) {
        const d = n - (then[op] ?? 0);
        if (d > 0) out[op] = d;
      }
      return out;
    };
    return {
      calls: diff(this.counts.calls, before.calls),
      throttles: diff(this.counts.throttles, before.throttles),
      errors: diff(this.counts.errors, before.errors),
    };
  }
}

export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
