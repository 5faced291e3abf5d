/**
 * An in-memory TargetOutput with S3's conditional-write semantics that records every write and removal,
 * and an EcsReadApi that records every call and answers none: together they show whether an input made
 * the engine touch AWS or change anything.
 */
import { createHash } from "node:crypto";
import type {
  ClusterListing,
  ContainerInstanceInfo,
  EcsReadApi,
  InstanceInfo,
} from "../../lambda/aws/ecs-read-api.js";
import type { ServiceInfo } from "../../lambda/core/model.js";
import type {
  ObjectKind,
  ObjectRef,
  StoredObject,
  TargetOutput,
} from "../../lambda/publish/target-output.js";

export class RecordingOutput implements TargetOutput {
  readonly location = "memory://";
  readonly objects = new Map<string, StoredObject>();
  readonly writes: { key: string; body: string }[] = [];
  readonly removals: string[] = [];

  constructor(seed?: Map<string, StoredObject>) {
    for (const [key, value] of seed ?? []) this.objects.set(key, { ...value });
  }

  key(ref: ObjectRef, kind: ObjectKind = "targets"): string {
    return `${kind}/${ref.accountId}/${ref.region}/${ref.name}.json`;
  }

  locationOf(ref: ObjectRef, kind?: ObjectKind): string {
    return `memory://${this.key(ref, kind)}`;
  }

  async read(ref: ObjectRef, kind?: ObjectKind): Promise<StoredObject | undefined> {
    const found = this.objects.get(this.key(ref, kind));
    return found ? { ...found } : undefined;
  }

  async write(
    ref: ObjectRef,
    body: string,
    expected: StoredObject | undefined,
    kind?: ObjectKind,
  ): Promise<string | undefined> {
    const key = this.key(ref, kind);
    if (this.objects.get(key)?.etag !== expected?.etag) return undefined;
    const etag = `"${createHash("md5").update(body).digest("hex")}"`;
    this.objects.set(key, { body, etag });
    this.writes.push({ key, body });
    return etag;
  }

  async remove(ref: ObjectRef): Promise<void> {
    for (const kind of ["targets", "state"] as const) {
      this.objects.delete(this.key(ref, kind));
      this.removals.push(this.key(ref, kind));
    }
  }

  async listPublishedClusters(accountId: string, region: string): Promise<string[]> {
    const prefix = `targets/${accountId}/${region}/`;
    return [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => k.slice(prefix.length, -5));
  }
}

export class RefusingApi implements EcsReadApi {
  readonly calls: string[] = [];

  private refuse(operation: string): never {
    this.calls.push(operation);
    throw Object.assign(new Error(`${operation} is not available in this test`), { name: "ServerException" });
  }
  async listClusterArns(): Promise<string[]> {
    return this.refuse("ListClusters");
  }
  async describeClusters(_refs: string[]): Promise<ClusterListing> {
    return this.refuse("DescribeClusters");
  }
  async listRunningTaskArns(_cluster: string): Promise<string[]> {
    return this.refuse("ListTasks");
  }
  async describeTasks(_cluster: string, _arns: string[], _tags: boolean): Promise<unknown[]> {
    return this.refuse("DescribeTasks");
  }
  async describeTaskDefinition(_arn: string): Promise<unknown> {
    return this.refuse("DescribeTaskDefinition");
  }
  async describeContainerInstances(_cluster: string, _arns: string[]): Promise<ContainerInstanceInfo[]> {
    return this.refuse("DescribeContainerInstances");
  }
  async describeInstances(_ids: string[]): Promise<Map<string, InstanceInfo>> {
    return this.refuse("DescribeInstances");
  }
  async describeServices(_cluster: string, _names: string[]): Promise<Map<string, ServiceInfo>> {
    return this.refuse("DescribeServices");
  }
  async describeNetworkInterfaces(_ids: string[]): Promise<Map<string, string | undefined>> {
    return this.refuse("DescribeNetworkInterfaces");
  }
}
