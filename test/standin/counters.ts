/** Calls, throttles and errors by API operation, so tests and benchmarks can assert the API budget spent. */
export interface CounterSnapshot {
  /** Every request received, whatever its outcome, by operation (`ListTasks`, `DescribeInstances`, …). */
  calls: Record<string, number>;
  /** Requests answered with a throttling error (token bucket or injected), by operation. */
  throttled: Record<string, number>;
  /** Requests answered with any other error (validation, not found, injected 5xx/denied), by operation. */
  errors: Record<string, number>;
  /** Requests held without an answer by an injected `timeout`, by operation. */
  timeouts: Record<string, number>;
  totalCalls: number;
  totalThrottled: number;
  totalErrors: number;
}

export class Counters {
  private calls = new Map<string, number>();
  private throttled = new Map<string, number>();
  private errors = new Map<string, number>();
  private timeouts = new Map<string, number>();

  call(operation: string): void {
    bump(this.calls, operation);
  }
  throttle(operation: string): void {
    bump(this.throttled, operation);
  }
  error(operation: string): void {
    bump(this.errors, operation);
  }
  timeout(operation: string): void {
    bump(this.timeouts, operation);
  }

  /** Calls of one operation so far (0 when never called). */
  callsOf(operation: string): number {
    return this.calls.get(operation) ?? 0;
  }

  snapshot(): CounterSnapshot {
    return {
      calls: Object.fromEntries(this.calls),
      throttled: Object.fromEntries(this.throttled),
      errors: Object.fromEntries(this.errors),
      timeouts: Object.fromEntries(this.timeouts),
      totalCalls: sum(this.calls),
      totalThrottled: sum(this.throttled),
      totalErrors: sum(this.errors),
    };
  }

  reset(): void {
    this.calls.clear();
    this.throttled.clear();
    this.errors.clear();
    this.timeouts.clear();
  }
}

/** The sum of several snapshots (the fleets of every account and region, STS). */
export function sumSnapshots(snapshots: readonly CounterSnapshot[]): CounterSnapshot {
  const total: CounterSnapshot = {
    calls: {},
    throttled: {},
    errors: {},
    timeouts: {},
    totalCalls: 0,
    totalThrottled: 0,
    totalErrors: 0,
  };
  for (const s of snapshots) {
    for (const field of ["calls", "throttled", "errors", "timeouts"] as const) {
      for (const [operation, n] of Object.entries(s[field])) {
        total[field][operation] = (total[field][operation] ?? 0) + n;
      }
    }
    total.totalCalls += s.totalCalls;
    total.totalThrottled += s.totalThrottled;
    total.totalErrors += s.totalErrors;
  }
  return total;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function sum(map: Map<string, number>): number {
  let total = 0;
  for (const v of map.values()) total += v;
  return total;
}
