/**
 * Everything that touches the EC2 SDK, in a module of its own that the rest of the function imports only
 * with `import()` (clients.ts): @aws-sdk/client-ec2 is half the bundle, and an event
 * needs it only for a new host or a new Fargate ENI, so a cold start on an event neither loads nor
 * evaluates it. A static import of this module or of the EC2 SDK anywhere else undoes that
 * (test/integration/lambda-bundle.test.ts notices).
 */
import {
  EC2Client,
  type EC2ClientConfig,
  paginateDescribeInstances,
  paginateDescribeNetworkInterfaces,
} from "@aws-sdk/client-ec2";

/** What DescribeInstances says of an EC2 instance. */
export interface InstanceInfo {
  privateIp?: string;
  publicIp?: string;
  subnetId?: string;
  instanceType?: string;
  tags: Record<string, string>;
}

/** The EC2 reads discovery makes, on one client. */
export interface Ec2Reads {
  /** The client, for callers that count and pace its calls. */
  readonly client: EC2Client;
  describeInstances(instanceIds: string[]): Promise<Map<string, InstanceInfo>>;
  describeNetworkInterfaces(eniIds: string[]): Promise<Map<string, string | undefined>>;
}

export function createEc2Reads(config: EC2ClientConfig): Ec2Reads {
  const client = new EC2Client(config);
  return {
    client,
    describeInstances: (ids) => describeInstances(client, ids),
    describeNetworkInterfaces: (ids) => describeNetworkInterfaces(client, ids),
  };
}

function ec2Tags(list: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of list ?? []) if (t.Key !== undefined && t.Value !== undefined) out[t.Key] = t.Value;
  return out;
}

/** By instance id; instances that no longer exist are absent. */
async function describeInstances(
  client: EC2Client,
  instanceIds: string[],
): Promise<Map<string, InstanceInfo>> {
  const found = new Map<string, InstanceInfo>();
  // A filter, unlike InstanceIds, does not fail the whole call when one instance is gone.
  const input = { Filters: [{ Name: "instance-id", Values: instanceIds }], MaxResults: 1000 };
  for await (const page of paginateDescribeInstances({ client }, input)) {
    for (const r of page.Reservations ?? []) {
      for (const i of r.Instances ?? []) {
        if (!i.InstanceId) continue;
        const info: InstanceInfo = { tags: ec2Tags(i.Tags) };
        if (i.PrivateIpAddress) info.privateIp = i.PrivateIpAddress;
        if (i.PublicIpAddress) info.publicIp = i.PublicIpAddress;
        if (i.SubnetId) info.subnetId = i.SubnetId;
        if (i.InstanceType) info.instanceType = i.InstanceType;
        found.set(i.InstanceId, info);
      }
    }
  }
  return found;
}

/** Public IPv4 address by ENI id (undefined: the ENI has none); ENIs that no longer exist are absent. */
async function describeNetworkInterfaces(
  client: EC2Client,
  eniIds: string[],
): Promise<Map<string, string | undefined>> {
  const found = new Map<string, string | undefined>();
  // A filter, unlike NetworkInterfaceIds, does not fail the whole call when one ENI is gone.
  const input = { Filters: [{ Name: "network-interface-id", Values: eniIds }], MaxResults: 1000 };
  for await (const page of paginateDescribeNetworkInterfaces({ client }, input)) {
    for (const eni of page.NetworkInterfaces ?? []) {
      if (eni.NetworkInterfaceId) found.set(eni.NetworkInterfaceId, eni.Association?.PublicIp || undefined);
    }
  }
  return found;
}
