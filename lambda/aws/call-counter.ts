import { isThrottle } from "../shared/aws-errors.js";
import { type MiddlewareClient, operationOf } from "./middleware.js";

/** Counts AWS requests by operation, each attempt separately, so retries and throttles show in summaries. */
export interface CallCounts {
  calls: Record<string, number>;
  throttles: Record<string, number>;
  errors: Record<string, number>;
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

/**
 * Sits just inside request signing and outside the deserializer: every HTTP request is counted, retries
 * included, with the modelled error it turned into (a throttle, say).
 */
export function countCalls(client: MiddlewareClient, counter: CallCounter): void {
  client.middlewareStack.addRelativeTo(
    (next, context) => async (args) => {
      const operation = operationOf(context);
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
