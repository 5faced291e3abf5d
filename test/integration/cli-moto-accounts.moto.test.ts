/**
 * Several accounts on moto, a second implementation of STS and ECS: moto keeps one backend per account, and
 * the credentials its STS AssumeRole returns for a role in another account make later calls land in that
 * account. The CLI, with ACCOUNTS and the standard endpoint variables, must publish each account's
 * clusters under its own account id. Runs in `npm run test:moto`.
 */
import { join } from "node:path";
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateClusterCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from "@aws-sdk/client-ecs";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, type Group, readJson, tmp } from "../support/cli-run.js";
import { holdEcsTaskStatus, type MotoServer, startMoto } from "../support/moto.js";

const HUB = "123456789012";
const MEMBER = "222222222222";
const EMPTY = "333333333333";
const REGION = "us-east-1";

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/** One Fargate task with a port label in a new cluster of the account these credentials belong to. */
async function fargateTask(url: string, credentials: Credentials, cluster: string, port: number) {
  const common = { endpoint: url, region: REGION, credentials };
  const ec2 = new EC2Client(common);
  const ecs = new ECSClient(common);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
  const VpcId = vpc.Vpc?.VpcId as string;
  // moto fails awsvpc tasks with a 500 unless the VPC has DNS hostnames.
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId, EnableDnsHostnames: { Value: true } }));
  const subnet = await ec2.send(new CreateSubnetCommand({ VpcId, CidrBlock: "10.0.0.0/24" }));
  await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: `${cluster}-api`,
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      cpu: "256",
      memory: "512",
      containerDefinitions: [
        {
          name: "api",
          image: "api:1",
          memory: 128,
          portMappings: [{ containerPort: port }],
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: String(port) },
        },
      ],
    }),
  );
  const run = await ecs.send(
    new RunTaskCommand({
      cluster,
      taskDefinition: `${cluster}-api`,
      launchType: "FARGATE",
      networkConfiguration: {
        awsvpcConfiguration: { subnets: [subnet.Subnet?.SubnetId as string], securityGroups: [] },
      },
    }),
  );
  for (const c of [ec2, ecs]) c.destroy();
  return run.tasks?.[0]?.taskArn as string;
}

describe("the CLI with ACCOUNTS against moto's STS and ECS", () => {
  let moto: MotoServer;
  let env: Record<string, string>;
  const tasks = new Map<string, string>();

  beforeAll(async () => {
    moto = await startMoto();
    await holdEcsTaskStatus(moto);
    const hub = { accessKeyId: "x", secretAccessKey: "x" };
    tasks.set(HUB, await fargateTask(moto.url, hub, "hub-prod", 9100));
    const sts = new STSClient({ endpoint: moto.url, region: REGION, credentials: hub });
    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${MEMBER}:role/prometheus-ecs-discovery-reader`,
        RoleSessionName: "setup",
      }),
    );
    sts.destroy();
    const c = assumed.Credentials;
    tasks.set(
      MEMBER,
      await fargateTask(
        moto.url,
        {
          accessKeyId: c?.AccessKeyId as string,
          secretAccessKey: c?.SecretAccessKey as string,
          sessionToken: c?.SessionToken as string,
        },
        "member-prod",
        9200,
      ),
    );
    env = {
      AWS_ENDPOINT_URL: moto.url,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "x",
      ACCOUNTS: `${HUB},${MEMBER},${EMPTY}`,
      ACCOUNT_ROLE_EXTERNAL_ID: "org-secret",
    };
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it("publishes each account's cluster under its own account id, and nothing for an account without clusters", async () => {
    const dir = await tmp();
    const run = await cli(["sync", "--out-dir", dir], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as {
      accounts: { account: string; status: string; clusters: number }[];
    };
    expect(summary.accounts).toEqual([
      { account: HUB, status: "listed", clusters: 1 },
      { account: MEMBER, status: "listed", clusters: 1 },
      { account: EMPTY, status: "listed", clusters: 0 },
    ]);
    for (const [account, cluster, port] of [
      [HUB, "hub-prod", "9100"],
      [MEMBER, "member-prod", "9200"],
    ] as const) {
      const groups = await readJson<Group[]>(join(dir, `${account}_${REGION}_${cluster}.json`));
      expect(groups).toHaveLength(1);
      expect(groups[0]?.labels.task_arn).toBe(tasks.get(account));
      expect(groups[0]?.targets[0]).toMatch(new RegExp(`:${port}$`));
    }
  });
});
