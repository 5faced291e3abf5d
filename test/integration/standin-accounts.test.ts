import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { ECSClient, ListClustersCommand, ListTasksCommand } from "@aws-sdk/client-ecs";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateFleet, readerRoleArn, type StandIn, startStandIn } from "../standin/index.js";
import { errorOf } from "../support/standin-clients.js";

const HUB = "123456789012";
const A = "111111111111";
const B = "222222222222";
const EAST = "us-east-1";
const WEST = "eu-west-1";
const HUB_KEYS = { accessKeyId: "standin", secretAccessKey: "standin" };

type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

const sts = (s: StandIn, credentials: Credentials = HUB_KEYS, maxAttempts = 1) =>
  new STSClient({ endpoint: s.url, region: EAST, credentials, maxAttempts });
const ecs = (s: StandIn, credentials: Credentials, region = EAST, maxAttempts = 1) =>
  new ECSClient({ endpoint: s.url, region, credentials, maxAttempts });
const ec2 = (s: StandIn, credentials: Credentials, region = EAST) =>
  new EC2Client({ endpoint: s.url, region, credentials, maxAttempts: 1 });

/** AssumeRole of the reader role of `account`, as the discovery function does it. */
async function assume(s: StandIn, account: string, externalId?: string): Promise<AwsCredentialIdentity> {
  const out = await sts(s).send(
    new AssumeRoleCommand({
      RoleArn: readerRoleArn(account),
      RoleSessionName: "prometheus-ecs-discovery",
      ...(externalId !== undefined ? { ExternalId: externalId } : {}),
    }),
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error("no credentials");
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    ...(c.Expiration ? { expiration: c.Expiration } : {}),
  };
}

const clusterNames = async (client: ECSClient): Promise<string[]> =>
  ((await client.send(new ListClustersCommand({}))).clusterArns ?? []).map((arn) =>
    arn.split(":").slice(3).join(":"),
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("accounts, regions and STS with the real SDK", () => {
  let s: StandIn;

  beforeAll(async () => {
    s = await startStandIn();
    s.fleet.addCluster("hub");
    for (const account of [A, B]) {
      for (const region of [EAST, WEST]) {
        const { fleet } = s.addFleet({ account, region, seed: Number(account.slice(0, 1)) });
        fleet.addCluster(`c-${account.slice(0, 1)}-${region}`);
      }
    }
    generateFleet(s.fleetOf(A, EAST) ?? s, { clusters: 1, tasks: 5, hostsPerCluster: 2, seed: 3 });
    s.addRole({ arn: readerRoleArn(A), externalId: "ext-a" });
    // B trusts the hub only, and asks for its own external id.
    s.addRole({ arn: readerRoleArn(B), externalId: "ext-b", trusts: (caller) => caller === HUB });
  });
  afterAll(async () => s.close());
  beforeEach(() => {
    for (const f of s.fleets()) {
      f.faults.clear();
      f.counters.reset();
    }
    s.sts.faults.clear();
    s.sts.reset();
    s.sts.lifetimeSeconds = undefined;
    s.sts.maxLifetimeSeconds = undefined;
  });

  it("routes by the signature: each account and region sees its own fleet", async () => {
    const a = await assume(s, A, "ext-a");
    const b = await assume(s, B, "ext-b");
    expect(a.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(await clusterNames(ecs(s, a, EAST))).toEqual([
      `${EAST}:${A}:cluster/c-1-${EAST}`,
      `${EAST}:${A}:cluster/cluster-01`,
    ]);
    expect(await clusterNames(ecs(s, a, WEST))).toEqual([`${WEST}:${A}:cluster/c-1-${WEST}`]);
    expect(await clusterNames(ecs(s, b, WEST))).toEqual([`${WEST}:${B}:cluster/c-2-${WEST}`]);
    expect(await clusterNames(ecs(s, HUB_KEYS, EAST))).toEqual([`${EAST}:${HUB}:cluster/hub`]);
    // EC2 too: A's instances in us-east-1, none in B's.
    const instances = await ec2(s, a).send(new DescribeInstancesCommand({}));
    expect(instances.Reservations?.flatMap((r) => r.Instances ?? [])).toHaveLength(2);
    expect(instances.Reservations?.[0]?.OwnerId).toBe(A);
    expect((await ec2(s, b).send(new DescribeInstancesCommand({}))).Reservations).toEqual([]);
    // Counted where they went.
    expect(s.fleetOf(A, EAST)?.counters.snapshot().calls).toEqual({ ListClusters: 1, DescribeInstances: 1 });
    expect(s.fleetOf(B, WEST)?.counters.callsOf("ListClusters")).toBe(1);
    expect(s.counters.snapshot().calls).toEqual({ ListClusters: 1 });
    const total = s.totalCounters();
    expect(total.calls).toEqual({ AssumeRole: 2, ListClusters: 4, DescribeInstances: 2 });
    expect(total.totalCalls).toBe(8);
  });

  it("answers AssumeRole like AWS: credentials, assumed role user, expiration", async () => {
    const before = Date.now();
    const out = await sts(s).send(
      new AssumeRoleCommand({
        RoleArn: readerRoleArn(A),
        RoleSessionName: "sess",
        ExternalId: "ext-a",
        DurationSeconds: 900,
      }),
    );
    expect(out.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${A}:assumed-role/prometheus-ecs-discovery-reader/sess`,
    );
    expect(out.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:sess$/);
    const expires = out.Credentials?.Expiration?.getTime() ?? 0;
    expect(expires - before).toBeGreaterThanOrEqual(899_000);
    expect(expires - before).toBeLessThanOrEqual(902_000);
    expect(s.sts.issued().at(-1)).toMatchObject({ account: A, callerAccount: HUB, externalId: "ext-a" });

    // The raw wire shape.
    const body = new URLSearchParams({
      Action: "AssumeRole",
      Version: "2011-06-15",
      RoleArn: readerRoleArn(A),
      RoleSessionName: "raw",
      ExternalId: "ext-a",
    });
    const res = await fetch(s.url, { method: "POST", body });
    const xml = await res.text();
    expect(res.status).toBe(200);
    expect(xml).toMatch(
      /^<AssumeRoleResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">\s*<AssumeRoleResult><AssumedRoleUser><AssumedRoleId>/,
    );
    expect(xml).toMatch(/<Credentials><AccessKeyId>ASIA\w+<\/AccessKeyId><SecretAccessKey>/);
    expect(xml).toMatch(/<Expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/Expiration>/);
    expect(xml).toMatch(/<ResponseMetadata>\s*<RequestId>[0-9a-f-]{36}<\/RequestId>/);
  });

  it("denies a wrong or missing external id, an unknown role and an untrusted caller with AccessDenied", async () => {
    const denied = async (
      roleArn: string,
      externalId: string | undefined,
      credentials: Credentials = HUB_KEYS,
    ) => {
      const err = await errorOf(
        sts(s, credentials).send(
          new AssumeRoleCommand({
            RoleArn: roleArn,
            RoleSessionName: "x1",
            ...(externalId !== undefined ? { ExternalId: externalId } : {}),
          }),
        ),
      );
      expect(err.name).toBe("AccessDenied");
      expect(err.$metadata?.httpStatusCode).toBe(403);
      return err;
    };
    const wrong = await denied(readerRoleArn(A), "ext-b");
    expect(wrong.message).toBe(
      `User: arn:aws:iam::${HUB}:user/standin is not authorized to perform: sts:AssumeRole on resource: ${readerRoleArn(A)}`,
    );
    await denied(readerRoleArn(A), undefined);
    await denied(readerRoleArn("333333333333"), "ext-a");
    // B trusts the hub only: A's session may not chain into it.
    const a = await assume(s, A, "ext-a");
    const untrusted = await denied(readerRoleArn(B), "ext-b", a);
    expect(untrusted.message).toContain(
      `User: arn:aws:sts::${A}:assumed-role/prometheus-ecs-discovery-reader/`,
    );
    expect(s.sts.calls().map((c) => [c.account, c.outcome])).toEqual([
      [A, "AccessDenied"],
      [A, "AccessDenied"],
      ["333333333333", "AccessDenied"],
      [A, "ok"],
      [B, "AccessDenied"],
    ]);
    expect(s.sts.countersOf(A).snapshot()).toMatchObject({ totalCalls: 3, totalErrors: 2 });

    const raw = await fetch(s.url, {
      method: "POST",
      body: new URLSearchParams({
        Action: "AssumeRole",
        Version: "2011-06-15",
        RoleArn: readerRoleArn(B),
        RoleSessionName: "s1",
      }),
    });
    expect(raw.status).toBe(403);
    expect(await raw.text()).toMatch(
      /<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">\s*<Error>\s*<Type>Sender<\/Type>\s*<Code>AccessDenied<\/Code>\s*<Message>User: [^<]+<\/Message>\s*<\/Error>\s*<RequestId>[0-9a-f-]{36}<\/RequestId>\s*<\/ErrorResponse>/,
    );
  });

  it("validates durations like AWS: 900 s at least, the role's maximum, one hour when chaining", async () => {
    const send = (DurationSeconds: number, credentials: Credentials = HUB_KEYS) =>
      sts(s, credentials).send(
        new AssumeRoleCommand({
          RoleArn: readerRoleArn(A),
          RoleSessionName: "d1",
          ExternalId: "ext-a",
          DurationSeconds,
        }),
      );
    expect((await errorOf(send(600))).name).toBe("ValidationError");
    expect((await errorOf(send(7200))).message).toContain("MaxSessionDuration");
    s.addRole({ arn: readerRoleArn(A), externalId: "ext-a", maxSessionDurationSeconds: 43_200 });
    expect((await send(7200)).Credentials?.AccessKeyId).toMatch(/^ASIA/);
    const a = await assume(s, A, "ext-a");
    expect((await errorOf(send(7200, a))).message).toContain("role chaining");
    s.addRole({ arn: readerRoleArn(A), externalId: "ext-a" });
  });

  it("answers GetCallerIdentity for long-term keys, mapped keys and assumed roles", async () => {
    const hub = await sts(s).send(new GetCallerIdentityCommand({}));
    expect(hub).toMatchObject({ Account: HUB, Arn: `arn:aws:iam::${HUB}:user/standin` });
    expect(hub.UserId).toMatch(/^AIDA[A-Z2-7]{17}$/);
    s.addAccessKey("AKIAACCOUNTB", B);
    const keyB = { accessKeyId: "AKIAACCOUNTB", secretAccessKey: "x" };
    expect((await sts(s, keyB).send(new GetCallerIdentityCommand({}))).Account).toBe(B);
    expect(await clusterNames(ecs(s, keyB, EAST))).toEqual([`${EAST}:${B}:cluster/c-2-${EAST}`]);
    const a = await assume(s, A, "ext-a");
    const assumed = await sts(s, a).send(new GetCallerIdentityCommand({}));
    expect(assumed).toMatchObject({
      Account: A,
      Arn: `arn:aws:sts::${A}:assumed-role/prometheus-ecs-discovery-reader/prometheus-ecs-discovery`,
    });
    expect(assumed.UserId).toMatch(/^AROA[A-Z2-7]{17}:prometheus-ecs-discovery$/);
  });

  it("refuses expired credentials: ExpiredTokenException (ECS), RequestExpired (EC2), ExpiredToken (STS)", async () => {
    const a = await assume(s, A, "ext-a");
    await ecs(s, a).send(new ListClustersCommand({}));
    s.sts.expire(a.accessKeyId);
    const err = await errorOf(ecs(s, a).send(new ListClustersCommand({})));
    expect(err.name).toBe("ExpiredTokenException");
    expect(err.message).toBe("The security token included in the request is expired");
    expect(err.$metadata?.httpStatusCode).toBe(400);
    expect((await errorOf(ec2(s, a).send(new DescribeInstancesCommand({})))).name).toBe("RequestExpired");
    const stsErr = await errorOf(sts(s, a).send(new GetCallerIdentityCommand({})));
    expect(stsErr.name).toBe("ExpiredToken");
    expect(stsErr.$metadata?.httpStatusCode).toBe(403);
    expect(s.fleetOf(A, EAST)?.counters.snapshot().errors).toEqual({ ListClusters: 1, DescribeInstances: 1 });

    // Keys the stand-in never issued, or with another session token.
    const forged = { ...a, accessKeyId: "ASIAAAAAAAAAAAAAAAAA" };
    expect((await errorOf(ecs(s, forged).send(new ListClustersCommand({})))).name).toBe(
      "UnrecognizedClientException",
    );
    const b = await assume(s, B, "ext-b");
    const mixed = { ...b, sessionToken: a.sessionToken ?? "" };
    expect((await errorOf(ec2(s, mixed).send(new DescribeInstancesCommand({})))).name).toBe("AuthFailure");
    expect((await errorOf(sts(s, forged).send(new GetCallerIdentityCommand({})))).name).toBe(
      "InvalidClientTokenId",
    );
  });

  it("issues short-lived credentials on request, so a provider has to refresh them", async () => {
    s.sts.lifetimeSeconds = 1;
    let assumed = 0;
    let current: AwsCredentialIdentity | undefined;
    // Like the function's provider: asks again when the credentials are about to expire.
    const provider: AwsCredentialIdentityProvider = async () => {
      if (!current || (current.expiration?.getTime() ?? 0) - Date.now() < 200) {
        assumed += 1;
        current = await assume(s, B, "ext-b");
      }
      return current;
    };
    const client = ecs(s, provider);
    expect(await clusterNames(client)).toEqual([`${EAST}:${B}:cluster/c-2-${EAST}`]);
    const stale = current as AwsCredentialIdentity;
    await sleep((stale.expiration?.getTime() ?? 0) - Date.now() + 50);
    expect((await errorOf(ecs(s, stale).send(new ListClustersCommand({})))).name).toBe(
      "ExpiredTokenException",
    );
    expect(await clusterNames(client)).toEqual([`${EAST}:${B}:cluster/c-2-${EAST}`]);
    expect(assumed).toBe(2);
    expect(s.sts.countersOf(B).callsOf("AssumeRole")).toBe(2);

    s.sts.lifetimeSeconds = undefined;
    s.sts.maxLifetimeSeconds = 120;
    const capped = await assume(s, A, "ext-a");
    expect((capped.expiration?.getTime() ?? 0) - Date.now()).toBeLessThanOrEqual(121_000);
  });

  it("keeps faults per account: one account denied or failing leaves the others alone", async () => {
    const a = await assume(s, A, "ext-a");
    const b = await assume(s, B, "ext-b");
    s.fleetOf(A, EAST)?.faults.inject({ kind: "accessDenied" });
    const denied = await errorOf(ecs(s, a).send(new ListTasksCommand({ cluster: `c-1-${EAST}` })));
    expect(denied.name).toBe("AccessDeniedException");
    expect(denied.message).toContain(`User: arn:aws:sts::${A}:assumed-role/prometheus-ecs-discovery-reader/`);
    expect(denied.message).toContain(`arn:aws:ecs:${EAST}:${A}:cluster/c-1-${EAST}`);
    expect(await clusterNames(ecs(s, a, WEST))).toHaveLength(1);
    expect(await clusterNames(ecs(s, b))).toHaveLength(1);
    expect(await clusterNames(ecs(s, HUB_KEYS))).toHaveLength(1);

    // STS faults by the account of the role: B's cannot be assumed for a while, A's still can.
    s.sts.faults.inject({ account: B, operation: "AssumeRole", kind: "accessDenied", times: 1 });
    s.sts.faults.inject({ account: B, operation: "AssumeRole", kind: "throttle", times: 1 });
    expect((await errorOf(assume(s, B, "ext-b"))).name).toBe("AccessDenied");
    expect((await errorOf(assume(s, B, "ext-b"))).name).toBe("Throttling");
    await assume(s, A, "ext-a");
    await assume(s, B, "ext-b");
    expect(s.sts.countersOf(B).snapshot()).toMatchObject({
      calls: { AssumeRole: 4 },
      throttled: { AssumeRole: 1 },
      errors: { AssumeRole: 1 },
    });
    // The SDK retries a throttled AssumeRole.
    s.sts.faults.inject({ account: B, kind: "throttle", times: 1 });
    const retried = await sts(s, HUB_KEYS, 2).send(
      new AssumeRoleCommand({ RoleArn: readerRoleArn(B), RoleSessionName: "r1", ExternalId: "ext-b" }),
    );
    expect(retried.$metadata.attempts).toBe(2);
  });

  it("throttles each account and region on its own token buckets", async () => {
    const a = await assume(s, A, "ext-a");
    const b = await assume(s, B, "ext-b");
    const tiny = { ecsClusters: { capacity: 2, refillPerSecond: 0.001 } };
    for (const [account, region] of [
      [A, EAST],
      [A, WEST],
      [B, EAST],
    ] as const) {
      s.fleetOf(account, region)?.faults.throttling(true, tiny);
    }
    const listA = ecs(s, a, EAST);
    await listA.send(new ListClustersCommand({}));
    await listA.send(new ListClustersCommand({}));
    expect((await errorOf(listA.send(new ListClustersCommand({})))).name).toBe("ThrottlingException");
    // A's other region and B have their own full buckets.
    await ecs(s, a, WEST).send(new ListClustersCommand({}));
    await ecs(s, a, WEST).send(new ListClustersCommand({}));
    await ecs(s, b, EAST).send(new ListClustersCommand({}));
    await ecs(s, b, EAST).send(new ListClustersCommand({}));
    expect(s.fleetOf(A, EAST)?.counters.snapshot().throttled).toEqual({ ListClusters: 1 });
    expect(s.fleetOf(B, EAST)?.counters.snapshot().throttled).toEqual({});
    expect(s.totalCounters().throttled).toEqual({ ListClusters: 1 });
  });

  it("serves an (account, region) without a fleet as an empty account, kept until a fleet is added", async () => {
    const a = await assume(s, A, "ext-a");
    expect(s.fleetOf(A, "ap-south-1")).toBeUndefined();
    expect(await clusterNames(ecs(s, a, "ap-south-1"))).toEqual([]);
    expect((await errorOf(ecs(s, a, "ap-south-1").send(new ListTasksCommand({ cluster: "x" })))).name).toBe(
      "ClusterNotFoundException",
    );
    const created = s.fleetOf(A, "ap-south-1");
    expect(created).toMatchObject({ account: A, region: "ap-south-1", onDemand: true });
    expect(created?.counters.callsOf("ListClusters")).toBe(1);
    const added = s.addFleet({ account: A, region: "ap-south-1" });
    expect(added).toBe(created);
    expect(added.onDemand).toBe(false);
    added.fleet.addCluster("late");
    expect(await clusterNames(ecs(s, a, "ap-south-1"))).toEqual([`ap-south-1:${A}:cluster/late`]);
    expect(added.counters.callsOf("ListClusters")).toBe(2);
    expect(() => s.addFleet({ account: A, region: EAST })).toThrow(/already has a fleet/);
  });
});
