import { describe, expect, it } from "vitest";
import type {
  ClusterListing,
  ContainerInstanceInfo,
  EcsReadApi,
  InstanceInfo,
} from "../../lambda/aws/ecs-read-api.js";
import { loadEngineConfig } from "../../lambda/config.js";
import type { ServiceInfo } from "../../lambda/core/model.js";
import { createCaches } from "../../lambda/discovery/caches.js";
import { discoverCluster } from "../../lambda/discovery/discover-cluster.js";

const ACCOUNT = "123456789012";
const CLUSTER = `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/prod`;
const td = (name: string) => `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/${name}:1`;
const ci = (id: string) => `arn:aws:ecs:eu-west-1:${ACCOUNT}:container-instance/prod/${id}`;
const RULES = loadEngineConfig({}).rules;

interface Spec {
  id: string;
  def: string;
  instance?: string;
  launchType?: string;
  lastStatus?: string;
}

/** Task definitions by family: network mode, and whether its container opts in with a port label. */
const DEFINITIONS: Record<string, { networkMode: string; scraped: boolean }> = {
  bridged: { networkMode: "bridge", scraped: true },
  hosted: { networkMode: "host", scraped: true },
  vpc: { networkMode: "awsvpc", scraped: true },
  quiet: { networkMode: "bridge", scraped: false },
};

/** An in-memory cluster behind the read API, recording every call with its batch size. */
class FakeCluster implements EcsReadApi {
  calls: string[] = [];
  refused = new Set<string>();
  failing = new Map<string, Error>();
  constructor(
    private readonly tasks: Spec[],
    private readonly instances: Record<string, { ec2?: string; ip?: string; external?: boolean }>,
  ) {}
  private call(name: string, size?: number) {
    this.calls.push(size === undefined ? name : `${name}(${size})`);
    const error = this.failing.get(name);
    if (error) throw error;
  }
  async listClusterArns(): Promise<string[]> {
    throw new Error("not used");
  }
  async describeClusters(): Promise<ClusterListing> {
    throw new Error("not used");
  }
  async listRunningTaskArns(): Promise<string[]> {
    this.call("ListTasks");
    return this.tasks.map((t) => `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/prod/${t.id}`);
  }
  async describeTasks(_cluster: string, arns: string[]): Promise<unknown[]> {
    this.call("DescribeTasks", arns.length);
    return arns.flatMap((arn) => {
      const t = this.tasks.find((x) => arn.endsWith(`/${x.id}`));
      if (!t) return [];
      return [
        {
          taskArn: arn,
          clusterArn: CLUSTER,
          taskDefinitionArn: td(t.def),
          launchType: t.launchType ?? "EC2",
          lastStatus: t.lastStatus ?? "RUNNING",
          desiredStatus: "RUNNING",
          version: 2,
          ...(t.instance ? { containerInstanceArn: ci(t.instance) } : {}),
          containers: [{ name: "app", lastStatus: "RUNNING" }],
        },
      ];
    });
  }
  async describeTaskDefinition(arn: string): Promise<unknown> {
    this.call("DescribeTaskDefinition");
    if (this.refused.has(arn))
      throw Object.assign(new Error("The specified task definition is being deleted."), {
        name: "ClientException",
      });
    const family = arn.split("/")[1]?.split(":")[0] ?? "";
    const { networkMode, scraped } = DEFINITIONS[family] ?? { networkMode: "bridge", scraped: false };
    const dockerLabels: Record<string, string> = scraped ? { PROMETHEUS_EXPORTER_PORT: "9100" } : {};
    return {
      taskDefinitionArn: arn,
      family,
      revision: 1,
      networkMode,
      containerDefinitions: [{ name: "app", dockerLabels }],
    };
  }
  async describeContainerInstances(_cluster: string, arns: string[]): Promise<ContainerInstanceInfo[]> {
    this.call("DescribeContainerInstances", arns.length);
    return arns.map((arn) => {
      const spec = this.instances[arn.split("/").pop() ?? ""] ?? {};
      return {
        containerInstanceArn: arn,
        external: spec.external ?? false,
        ...(spec.ec2 ? { ec2InstanceId: spec.ec2 } : {}),
      };
    });
  }
  async describeInstances(ids: string[]): Promise<Map<string, InstanceInfo>> {
    this.call("DescribeInstances", ids.length);
    const out = new Map<string, InstanceInfo>();
    for (const spec of Object.values(this.instances))
      if (spec.ec2 && spec.ip && ids.includes(spec.ec2)) out.set(spec.ec2, { privateIp: spec.ip, tags: {} });
    return out;
  }
  async describeServices(): Promise<Map<string, ServiceInfo>> {
    throw new Error("not used");
  }
  async describeNetworkInterfaces(ids: string[]): Promise<Map<string, string | undefined>> {
    this.call("DescribeNetworkInterfaces", ids.length);
    return new Map(ids.map((id) => [id, undefined]));
  }
}

const discover = (api: EcsReadApi, caches = createCaches()) =>
  discoverCluster(api, caches, CLUSTER, { rules: RULES, maxConcurrency: 4, full: true });

describe("discoverCluster", () => {
  it("describes tasks in batches of 100 and each task definition once", async () => {
    const tasks = Array.from({ length: 250 }, (_, i) => ({ id: `t${i}`, def: "vpc", launchType: "FARGATE" }));
    const api = new FakeCluster(tasks, {});
    const snapshot = await discover(api);
    expect(snapshot.tasks).toHaveLength(250);
    expect(api.calls.filter((c) => c.startsWith("DescribeTasks")).sort()).toEqual([
      "DescribeTasks(100)",
      "DescribeTasks(100)",
      "DescribeTasks(50)",
    ]);
    expect(api.calls.filter((c) => c === "DescribeTaskDefinition")).toHaveLength(1);
    expect([...snapshot.taskDefinitions.keys()]).toEqual([td("vpc")]);
  });

  it("keeps only running tasks", async () => {
    const api = new FakeCluster(
      [
        { id: "up", def: "vpc" },
        { id: "starting", def: "vpc", lastStatus: "PENDING" },
      ],
      {},
    );
    expect((await discover(api)).tasks.map((t) => t.taskArn.split("/").pop())).toEqual(["up"]);
  });

  it("resolves the hosts of scrapeable tasks on container instances (awsvpc too, for instance labels), each once", async () => {
    const api = new FakeCluster(
      [
        { id: "a", def: "bridged", instance: "i1" },
        { id: "b", def: "bridged", instance: "i1" },
        { id: "c", def: "hosted", instance: "i2" },
        { id: "d", def: "quiet", instance: "i3" },
        { id: "e", def: "vpc", instance: "i4" },
      ],
      { i1: { ec2: "i-1", ip: "10.0.0.1" }, i2: { ec2: "i-2", ip: "10.0.0.2" } },
    );
    const snapshot = await discover(api);
    expect(api.calls).toContain("DescribeContainerInstances(3)");
    expect(api.calls).toContain("DescribeInstances(2)");
    expect([...snapshot.hosts.values()]).toEqual([
      {
        containerInstanceArn: ci("i1"),
        ec2InstanceId: "i-1",
        privateIp: "10.0.0.1",
        external: false,
        tags: {},
      },
      {
        containerInstanceArn: ci("i2"),
        ec2InstanceId: "i-2",
        privateIp: "10.0.0.2",
        external: false,
        tags: {},
      },
      { containerInstanceArn: ci("i4"), external: false },
    ]);
  });

  it("asks ECS nothing again for resolved hosts, refreshes their EC2 instances, asks again for a vanished one", async () => {
    const api = new FakeCluster(
      [
        { id: "a", def: "bridged", instance: "i1" },
        { id: "b", def: "bridged", instance: "gone" },
        { id: "c", def: "bridged", instance: "anywhere" },
      ],
      { i1: { ec2: "i-1", ip: "10.0.0.1" }, gone: { ec2: "i-9" }, anywhere: { external: true } },
    );
    const caches = createCaches();
    const first = await discover(api, caches);
    expect(first.hosts.get(ci("gone"))).toEqual({
      containerInstanceArn: ci("gone"),
      ec2InstanceId: "i-9",
      external: false,
    });
    expect(first.hosts.get(ci("anywhere"))).toEqual({ containerInstanceArn: ci("anywhere"), external: true });
    api.calls = [];
    await discover(api, caches);
    expect(api.calls).toEqual([
      "ListTasks",
      "DescribeTasks(3)",
      "DescribeContainerInstances(1)",
      "DescribeInstances(1)",
      // The refresh of the known instance: tags and public addresses change while it runs.
      "DescribeInstances(1)",
    ]);
  });

  it("leaves out the tasks of a task definition ECS refuses to describe, and says why", async () => {
    const api = new FakeCluster(
      [
        { id: "a", def: "vpc" },
        { id: "b", def: "bridged", instance: "i1" },
      ],
      { i1: { ec2: "i-1", ip: "10.0.0.1" } },
    );
    api.refused.add(td("bridged"));
    const snapshot = await discover(api);
    expect([...snapshot.taskDefinitions.keys()]).toEqual([td("vpc")]);
    expect([...snapshot.unusableDefinitions]).toEqual([
      [td("bridged"), "ClientException: The specified task definition is being deleted."],
    ]);
    expect(api.calls).not.toContain("DescribeContainerInstances(1)");
  });

  it("rejects when a call fails beyond the SDK's retries, so the cluster keeps its last object", async () => {
    const api = new FakeCluster([{ id: "a", def: "vpc" }], {});
    api.failing.set(
      "DescribeTasks",
      Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }),
    );
    await expect(discover(api)).rejects.toThrow("Rate exceeded");
  });
});
