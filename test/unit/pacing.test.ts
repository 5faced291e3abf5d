import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CallPacer } from "../../lambda/aws/pacing.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** Starts `n` admissions of `operation` and reports how many have been let through so far. */
function admitMany(pacer: CallPacer, operation: string, n: number): () => number {
  let through = 0;
  for (let i = 0; i < n; i++) void pacer.admit(operation).then(() => through++);
  return () => through;
}

describe("pacing ECS and EC2 calls to AWS's token buckets", () => {
  it("lets a burst through at once, keeps one token in hand, then one call per refill interval", async () => {
    const pacer = new CallPacer(() => Date.now());
    const through = admitMany(pacer, "DescribeTasks", 110);
    await vi.advanceTimersByTimeAsync(0);
    expect(through()).toBe(99);
    await vi.advanceTimersByTimeAsync(50);
    expect(through()).toBe(100);
    await vi.advanceTimersByTimeAsync(450);
    expect(through()).toBe(109);
    await vi.advanceTimersByTimeAsync(50);
    expect(through()).toBe(110);
  });

  it("shares one bucket between ListTasks, DescribeTasks and DescribeContainerInstances, as ECS does", async () => {
    const pacer = new CallPacer(() => Date.now());
    const list = admitMany(pacer, "ListTasks", 50);
    const describe = admitMany(pacer, "DescribeTasks", 40);
    const instances = admitMany(pacer, "DescribeContainerInstances", 20);
    const definitions = admitMany(pacer, "DescribeTaskDefinition", 60);
    await vi.advanceTimersByTimeAsync(0);
    expect(list() + describe() + instances()).toBe(99);
    expect(definitions()).toBe(49);
  });

  it("never holds back operations without a bucket", async () => {
    const pacer = new CallPacer(() => Date.now());
    const through = admitMany(pacer, "PutObject", 500);
    await vi.advanceTimersByTimeAsync(0);
    expect(through()).toBe(500);
  });

  it("refills while idle, up to the burst", async () => {
    const pacer = new CallPacer(() => Date.now());
    const first = admitMany(pacer, "DescribeInstances", 99);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(first()).toBe(99);
    const second = admitMany(pacer, "DescribeInstances", 120);
    await vi.advanceTimersByTimeAsync(0);
    expect(second()).toBe(99);
  });
});
