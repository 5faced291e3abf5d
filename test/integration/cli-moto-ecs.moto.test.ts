/**
 * The CLI against moto's own ECS, EC2 and S3: a second implementation of the ECS and EC2 APIs besides the
 * stand-in (test/standin/), so it needs python3's moto and runs in `npm run test:moto`, not `npm test`.
 */
import { join } from "node:path";
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateClusterCommand,
  ECSClient,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from "@aws-sdk/client-ecs";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, type Group, readJson, tmp } from "../support/cli-run.js";
import { holdEcsTaskStatus, type MotoServer, startMoto } from "../support/moto.js";

/**
 * moto's own ECS model, as a second implementation of the real API. Its gaps, worked around here: it
 * reports no `networkBindings` (so bridge containers cannot be resolved and only host and awsvpc tasks
 * become targets), only the first container of a task definition, and no ListTasks pagination.
 */
describe("prometheus-ecs-discovery CLI against moto's ECS, EC2 and S3", () => {
  let moto: MotoServer;
  let env: Record<string, string>;
  let eniIp: string | undefined;

  beforeAll(async () => {
    moto = await startMoto();
    await holdEcsTaskStatus(moto);
    const common = {
      endpoint: moto.url,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    };
    const ec2 = new EC2Client(common);
    const ecs = new ECSClient(common);
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "127.0.0.0/16" }));
    const VpcId = vpc.Vpc?.VpcId as string;
    // moto fails awsvpc tasks with a 500 unless the VPC has DNS hostnames.
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId, EnableDnsHostnames: { Value: true } }));
    const subnet = await ec2.send(new CreateSubnetCommand({ VpcId, CidrBlock: "127.0.0.0/24" }));
    const SubnetId = subnet.Subnet?.SubnetId as string;
    const instances = await ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-12c6146b",
        MinCount: 1,
        MaxCount: 1,
        SubnetId,
        PrivateIpAddress: "127.0.0.1",
      }),
    );
    const instanceId = instances.Instances?.[0]?.InstanceId as string;
    await ecs.send(new CreateClusterCommand({ clusterName: "moto-prod" }));
    await ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: "moto-prod",
        instanceIdentityDocument: JSON.stringify({ instanceId }),
      }),
    );
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "node-exporter",
        networkMode: "host",
        containerDefinitions: [
          {
            name: "exporter",
            image: "ne:1",
            memory: 64,
            portMappings: [{ containerPort: 9100 }],
            dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100", PROMETHEUS_EXPORTER_JOB_NAME: "node" },
          },
        ],
      }),
    );
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "api",
        networkMode: "awsvpc",
        requiresCompatibilities: ["FARGATE"],
        cpu: "256",
        memory: "512",
        containerDefinitions: [
          {
            name: "api",
            image: "api:1",
            memory: 128,
            portMappings: [{ containerPort: 8080 }],
            dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080", PROMETHEUS_EXPORTER_PATH: "/stats" },
          },
        ],
      }),
    );
    await ecs.send(new RunTaskCommand({ cluster: "moto-prod", taskDefinition: "node-exporter", count: 1 }));
    const fargate = await ecs.send(
      new RunTaskCommand({
        cluster: "moto-prod",
        taskDefinition: "api",
        launchType: "FARGATE",
        networkConfiguration: { awsvpcConfiguration: { subnets: [SubnetId], securityGroups: [] } },
      }),
    );
    eniIp = fargate.tasks?.[0]?.attachments?.[0]?.details?.find(
      (d) => d.name === "privateIPv4Address",
    )?.value;
    await s3.send(new CreateBucketCommand({ Bucket: "sd-bucket" }));
    for (const c of [ec2, ecs, s3]) c.destroy();
    env = {
      AWS_ENDPOINT_URL: moto.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "x",
    };
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it("sync --out-dir finds the host-mode and Fargate tasks at their addresses", async () => {
    const dir = await tmp();
    const run = await cli(["sync", "--out-dir", dir], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const groups = await readJson<Group[]>(join(dir, "123456789012_us-east-1_moto-prod.json"));
    expect(eniIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(groups.map((g) => g.targets[0]).sort()).toEqual([`${eniIp}:8080`, "127.0.0.1:9100"].sort());
    const byFamily = new Map(groups.map((g) => [g.labels.task_name, g.labels]));
    expect(byFamily.get("node-exporter")).toMatchObject({ job: "node", __meta_ecs_network_mode: "host" });
    expect(byFamily.get("api")).toMatchObject({
      __metrics_path__: "/stats",
      __meta_ecs_launch_type: "FARGATE",
      __meta_ecs_network_mode: "awsvpc",
    });
  });

  it("sync --bucket writes the object at {prefix}{account}/{region}/{cluster}.json as application/json", async () => {
    const run = await cli(["sync", "--bucket", "sd-bucket", "--prefix", "sd/"], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const s3 = new S3Client({
      endpoint: moto.url,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const object = await s3.send(
      new GetObjectCommand({ Bucket: "sd-bucket", Key: "sd/123456789012/us-east-1/moto-prod.json" }),
    );
    expect(object.ContentType).toBe("application/json");
    const groups = JSON.parse((await object.Body?.transformToString()) ?? "") as Group[];
    expect(groups).toHaveLength(2);
    s3.destroy();
  });
});
