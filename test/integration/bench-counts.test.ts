import { describe, expect, it } from "vitest";
import { GROUPS } from "../bench/catalogue.js";

/**
 * Keeps the benchmark honest without timing anything: the smallest scenario runs through the same engine
 * process, stand-in and counters as `npm run bench`, and its figures must agree with each other and
 * with the lower bound worked out by hand for that fleet.
 */
describe("npm run bench, smallest scenario", () => {
  it("counts the calls the stand-in received, and a reconcile of 1,000 tasks makes exactly the fewest", async () => {
    const group = GROUPS.find((g) => g.name === "reconcile-1k");
    if (!group) throw new Error("the catalogue has no reconcile-1k");
    const [cold, warm] = await group.run({ latencyMs: 0, throttling: true });
    if (!cold || !warm) throw new Error("reconcile-1k measures a cold and a warm run");

    // 1 cluster of 1,000 listed tasks on 50 hosts, 8 task definition revisions in use, 2xx scrapeable
    // Fargate tasks: ListTasks pages and DescribeTasks batches of 100, one describe per revision, one host
    // batch, one DescribeNetworkInterfaces per 100 Fargate ENIs. Warm (a scheduled reconcile before the next
    // full describe): the listing, and one DescribeTasks for the tasks still settling (the 1 % not yet
    // running, the health-checked ones not yet HEALTHY); EC2 instances wait for the full describe.
    expect(cold.fleet).toEqual({ tasks: 1000, clusters: 1, hosts: 50 });
    const listing = { ListClusters: 1, ListTasks: 10, DescribeTasks: 10 };
    expect(cold.bound).toEqual({
      ...listing,
      DescribeTaskDefinition: 8,
      DescribeContainerInstances: 1,
      DescribeInstances: 1,
      DescribeNetworkInterfaces: 3,
    });
    expect(warm.bound).toEqual({ ListClusters: 1, ListTasks: 10, DescribeTasks: 1 });

    for (const row of [cold, warm]) {
      expect(row.engineCalls).toEqual(row.calls);
      expect(row.calls).toEqual(row.bound);
      expect(row.throttled).toEqual({});
      expect(row.failures).toBe(0);
    }
    expect(cold.written.writes).toEqual({ targets: 1, state: 1 });
    expect(warm.written.writes).toEqual({ targets: 0, state: 0 });
  });
});
