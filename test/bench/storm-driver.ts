import type { StandIn } from "../standin/index.js";
import type { Prng } from "../standin/prng.js";
import type { EngineProcess } from "./engine-process.js";
import { EventSourceModel, type Message, type SourceConfig } from "./event-source.js";
import type { InvokeReport } from "./protocol.js";
import { sqsBatch } from "./scenarios.js";

/** One change to the fleet, `at` ms into the run; returns the task whose event the rule delivers. */
export interface Step {
  at: number;
  apply: () => string;
}

export interface StormPlan {
  steps: Step[];
  /** How many steps' events the queue delivers twice. */
  duplicates: number;
}

const DELAYED_SHARE = 0.01;
/**
 * The construct's visibility timeout is six function timeouts (12 min); a handed-back message waits this
 * much less here so that the run ends, which only shortens what the window does not decide anyway.
 */
const VISIBILITY_TIMEOUT_MS = 30_000;
const GIVE_UP_MS = 4 * 60_000;
/** Idle pollers look again this often, so a run that gave up still ends. */
const IDLE_CHECK_MS = 1000;

export const GIVE_UP_SECONDS = GIVE_UP_MS / 1000;

/** Wakes every waiting poller at once: a message arrived, an invocation returned, or the producer ended. */
class Wakeup {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
    });
  }
}

export interface Driven {
  reports: InvokeReport[];
  wallMs: number;
  deliveries: number;
  delayed: number;
  /** Per message handed over: visible → invoked, and visible → invocation returned. */
  waits: number[];
  settled: number[];
  gaveUp: boolean;
}

/** Plays the deployment into the queue on the wall clock while the pollers feed the engines. */
export class StormDriver {
  private readonly model: EventSourceModel<unknown>;
  private readonly wake = new Wakeup();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly started = performance.now();
  private producing = true;
  private readonly out: Driven = {
    reports: [],
    wallMs: 0,
    deliveries: 0,
    delayed: 0,
    waits: [],
    settled: [],
    gaveUp: false,
  };

  constructor(
    private readonly standIn: StandIn,
    private readonly plan: StormPlan,
    private readonly engines: EngineProcess[],
    source: SourceConfig,
    private readonly rng: Prng,
  ) {
    this.model = new EventSourceModel(source, (n) => rng.int(0, n - 1));
  }

  async run(): Promise<Driven> {
    await Promise.all([this.produce(), ...this.engines.map((_, i) => this.poller(i))]);
    for (const t of this.timers) clearTimeout(t);
    this.out.wallMs = this.now();
    return this.out;
  }

  private now(): number {
    return performance.now() - this.started;
  }

  /** Each step at its offset; the rule's event enters the queue then, a little later, or twice. */
  private async produce(): Promise<void> {
    const { steps, duplicates } = this.plan;
    const redelivered = new Set<number>();
    while (redelivered.size < Math.min(duplicates, steps.length))
      redelivered.add(this.rng.int(0, steps.length - 1));
    let index = 0;
    while (index < steps.length) {
      const wait = (steps[index] as Step).at - this.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (; index < steps.length && (steps[index] as Step).at <= this.now(); index++) {
        const step = steps[index] as Step;
        const body = this.standIn.fleet.taskStateChangeEvent(step.apply());
        // EventBridge delivers most events at once and some seconds late.
        if (this.rng.bool(DELAYED_SHARE)) {
          this.out.delayed++;
          this.deliver(body, step.at + this.rng.int(3000, 8000));
        } else this.deliver(body, step.at);
        // At-least-once: a copy of the same event, a few seconds later.
        if (redelivered.has(index)) this.deliver(body, step.at + this.rng.int(1000, 10_000));
      }
    }
    this.producing = false;
    this.wake.notify();
  }

  private deliver(body: unknown, availableAt: number): void {
    const offer = () => {
      const now = this.now();
      this.model.offer({ body, availableAt: now }, now);
      this.wake.notify();
    };
    const delay = availableAt - this.now();
    if (delay <= 0) {
      offer();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      offer();
    }, delay);
    this.timers.add(timer);
  }

  private finished(): boolean {
    if (this.now() > GIVE_UP_MS) this.out.gaveUp = true;
    const idle =
      !this.producing && this.timers.size === 0 && this.model.waiting === 0 && this.model.inFlight === 0;
    return idle || this.out.gaveUp;
  }

  private async poller(index: number): Promise<void> {
    const engine = this.engines[index] as EngineProcess;
    for (;;) {
      const answer = this.model.poll(index, this.now());
      if ("batch" in answer) {
        await this.invoke(engine, answer.batch);
        this.model.done(index);
        this.wake.notify();
        continue;
      }
      if (this.finished()) return;
      const until = answer.askAt === undefined ? IDLE_CHECK_MS : answer.askAt - this.now();
      await this.wake.wait(Math.min(until, IDLE_CHECK_MS));
    }
  }

  private async invoke(engine: EngineProcess, batch: Message<unknown>[]): Promise<void> {
    const handedAt = this.now();
    const payload = sqsBatch(
      this.standIn,
      batch.map((m) => m.body),
    ) as { Records: { messageId: string }[] };
    this.out.deliveries += batch.length;
    const report = await engine.invoke(payload);
    const doneAt = this.now();
    this.out.reports.push(report);
    for (const m of batch) {
      this.out.waits.push(handedAt - m.availableAt);
      this.out.settled.push(doneAt - m.availableAt);
    }
    // Messages handed back become visible again after the visibility timeout.
    const failed = new Set(report.summary.failedMessageIds ?? []);
    payload.Records.forEach((r, k) => {
      if (failed.has(r.messageId))
        this.deliver((batch[k] as Message<unknown>).body, doneAt + VISIBILITY_TIMEOUT_MS);
    });
  }
}
