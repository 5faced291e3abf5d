import { DEFAULTS } from "../../cdk/props.js";
import type { Row } from "./scenarios.js";

/** One SQS event source mapping setting the storm is measured under. */
export interface SourceConfig {
  /** MaximumBatchingWindowInSeconds. */
  windowSeconds: number;
  /** BatchSize. */
  batchSize: number;
  /** ScalingConfig.MaximumConcurrency. */
  maxConcurrency: number;
}

/** What the construct deploys when the caller sets nothing: the setting the budget is judged on. */
export const DEFAULT_SOURCE: SourceConfig = {
  windowSeconds: DEFAULTS.eventBatchingWindowSeconds,
  batchSize: DEFAULTS.eventBatchSize,
  maxConcurrency: DEFAULTS.eventMaxConcurrency,
};

/**
 * The settings the storm runs under. A window of 0 allows at most 10 messages a batch (Lambda's rule), so
 * that run shows what a window-less mapping costs; the others keep the construct's batch size, which a
 * 5,000-event minute never fills within 5 s (about 83 events a second), so only the window decides there.
 */
export const STORM_SOURCES: readonly SourceConfig[] = [
  { windowSeconds: 0, batchSize: 10, maxConcurrency: DEFAULTS.eventMaxConcurrency },
  { windowSeconds: 1, batchSize: DEFAULTS.eventBatchSize, maxConcurrency: DEFAULTS.eventMaxConcurrency },
  { windowSeconds: 5, batchSize: DEFAULTS.eventBatchSize, maxConcurrency: DEFAULTS.eventMaxConcurrency },
];

export const sameSource = (a: SourceConfig, b: SourceConfig) =>
  a.windowSeconds === b.windowSeconds && a.batchSize === b.batchSize && a.maxConcurrency === b.maxConcurrency;

export const sourceName = (c: SourceConfig) => `${c.windowSeconds}s-b${c.batchSize}`;

/**
 * Lambda's rules for an SQS event source on a standard queue (CreateEventSourceMapping): a window of 0–300
 * s, a batch of 1–10,000 but at most 10 unless the window is at least 1 s, maximum concurrency 2–1,000.
 * A setting AWS would refuse is not worth measuring.
 */
export function checkSource(c: SourceConfig): void {
  const problems = [
    Number.isInteger(c.windowSeconds) && c.windowSeconds >= 0 && c.windowSeconds <= 300
      ? ""
      : "window must be whole seconds in 0–300",
    Number.isInteger(c.batchSize) && c.batchSize >= 1 && c.batchSize <= 10_000 ? "" : "batch size 1–10,000",
    c.batchSize > 10 && c.windowSeconds < 1 ? "a batch size above 10 needs a window of at least 1 s" : "",
    Number.isInteger(c.maxConcurrency) && c.maxConcurrency >= 2 && c.maxConcurrency <= 1000
      ? ""
      : "maximum concurrency 2–1,000",
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`event source ${sourceName(c)}: ${problems.join("; ")}`);
}

export interface Message<T> {
  body: T;
  /** When the message became visible in the queue (ms on the run's clock). */
  availableAt: number;
}

interface Poller<T> {
  invoking: boolean;
  /** When this poller's window opened: its first message of the batch arrived. */
  openedAt: number;
  batch: Message<T>[];
}

/**
 * The queue and the event source mapping's pollers, as Lambda runs them for a standard queue.
 *
 * Pollers: one per concurrency slot. Lambda starts five pollers, but with MaximumConcurrency it never
 * keeps more batches in flight than the limit, so a further poller's batch would only wait for a slot,
 * as messages wait in the queue; the slots are the pollers that matter. A poller is either receiving or
 * invoking; after an invocation it receives again (the next window begins when the previous invocation
 * completes).
 *
 * Receiving: each poller long-polls, so a message that becomes visible goes to one receiving poller with
 * room, chosen at random (several ReceiveMessage calls race for it); with none, it stays in the queue and
 * the next poller to receive takes up to a batch of what waits, in no particular order (a standard queue
 * promises none).
 *
 * Invoking: a poller hands its batch over when it holds `batchSize` messages, or, with a window, once the
 * window has passed since its first message; with a window of 0, as soon as it holds anything (long
 * polling returns when messages are available). The 6 MB payload cap never binds here: a batch of 1,000
 * task events is about 3 MB.
 */
export class EventSourceModel<T> {
  private readonly backlog: Message<T>[] = [];
  private readonly pollers: Poller<T>[];

  constructor(
    private readonly config: SourceConfig,
    /** Uniform integer in [0, n). */
    private readonly random: (n: number) => number,
  ) {
    checkSource(config);
    this.pollers = Array.from({ length: config.maxConcurrency }, () => ({
      invoking: false,
      openedAt: 0,
      batch: [],
    }));
  }

  get waiting(): number {
    return this.backlog.length + this.pollers.reduce((a, p) => a + (p.invoking ? 0 : p.batch.length), 0);
  }

  get inFlight(): number {
    return this.pollers.filter((p) => p.invoking).length;
  }

  /** A message becomes visible at `now`. */
  offer(message: Message<T>, now: number): void {
    const open = this.pollers.filter((p) => !p.invoking && p.batch.length < this.config.batchSize);
    const poller = open[this.random(open.length)];
    if (!poller) {
      this.backlog.push(message);
      return;
    }
    if (poller.batch.length === 0) poller.openedAt = now;
    poller.batch.push(message);
  }

  /**
   * Asks poller `index` at `now` whether it invokes: a batch to hand over, or the time to ask again
   * (undefined: when a message arrives).
   */
  poll(index: number, now: number): { batch: Message<T>[] } | { askAt: number | undefined } {
    const poller = this.pollers[index];
    if (!poller || poller.invoking) throw new Error(`poller ${index} is not receiving`);
    this.refill(poller, now);
    if (poller.batch.length === 0) return { askAt: undefined };
    const closesAt = poller.openedAt + this.config.windowSeconds * 1000;
    if (poller.batch.length < this.config.batchSize && now < closesAt) return { askAt: closesAt };
    const batch = poller.batch;
    poller.batch = [];
    poller.invoking = true;
    return { batch };
  }

  /** Poller `index`'s invocation has returned; it receives again. */
  done(index: number): void {
    const poller = this.pollers[index];
    if (poller) poller.invoking = false;
  }

  private refill(poller: Poller<T>, now: number): void {
    const room = this.config.batchSize - poller.batch.length;
    if (room <= 0 || this.backlog.length === 0) return;
    if (poller.batch.length === 0) poller.openedAt = now;
    for (let i = 0; i < room && this.backlog.length > 0; i++) {
      const k = this.random(this.backlog.length);
      poller.batch.push(this.backlog[k] as Message<T>);
      this.backlog[k] = this.backlog.at(-1) as Message<T>;
      this.backlog.pop();
    }
  }
}

export interface Spread {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { mean: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return {
    mean: sorted.reduce((a, v) => a + v, 0) / sorted.length,
    p50: at(0.5),
    p99: at(0.99),
    max: sorted.at(-1) as number,
  };
}

/** What the storm learned about one event source setting, beside the row's calls and throttles. */
export interface SourceFigures extends SourceConfig {
  isDefault: boolean;
  invocations: number;
  /** Visible in the queue → handed to an invocation: the wait the window (and a busy slot) adds. */
  waitMs: Spread;
  /** Visible in the queue → the invocation that carried it returned (state and targets committed). */
  settledMs: Spread;
}

/** A storm row carries its event source figures; the report reads them back with `sourceOf`. */
export type StormRow = Row & { source: SourceFigures };

export function sourceOf(row: Row): SourceFigures | undefined {
  return (row as Partial<StormRow>).source;
}
