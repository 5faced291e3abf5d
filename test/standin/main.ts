import { parseArgs } from "node:util";
import type { AccountFleet } from "./accounts.js";
import { generateFleet } from "./generate.js";
import { startStandIn } from "./server.js";
import { readerRoleArn } from "./sts-protocol.js";

/**
 * Runs the stand-in on its own, with a generated fleet:
 *   npx tsx test/standin/main.ts --port 4599 --tasks 200 --clusters 3
 * and prints the environment that points the AWS SDK (and this project's CLI) at it. With
 * `--accounts A,B [--regions R1,R2] [--external-id X]`, every account (the default one included) gets a
 * generated fleet in every region, and A and B the role prometheus-ecs-discovery-reader.
 */
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4599" },
    host: { type: "string", default: "127.0.0.1" },
    tasks: { type: "string", default: "200" },
    clusters: { type: "string", default: "3" },
    "hosts-per-cluster": { type: "string" },
    seed: { type: "string", default: "1" },
    addressing: { type: "string", default: "private" },
    region: { type: "string", default: "us-east-1" },
    account: { type: "string", default: "123456789012" },
    accounts: { type: "string" },
    regions: { type: "string" },
    "external-id": { type: "string" },
    throttling: { type: "boolean", default: false },
    "no-metadata": { type: "boolean", default: false },
    latency: { type: "string", default: "0" },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: tsx test/standin/main.ts [--port 4599] [--tasks 200] [--clusters 3] [--hosts-per-cluster N]\n" +
      "       [--seed 1] [--addressing private|loopback] [--region us-east-1] [--account 123456789012]\n" +
      "       [--throttling] [--latency MS] [--no-metadata]\n" +
      "       [--accounts 111111111111,222222222222] [--regions us-east-1,eu-west-1] [--external-id X]\n" +
      "  --accounts: other accounts, each with a generated fleet per region and the role\n" +
      "              prometheus-ecs-discovery-reader (ExternalId --external-id when given)\n" +
      "  --regions: regions with a generated fleet, for every account (default: --region)\n" +
      "  --no-metadata: no cluster/service/instance tags, public addresses or health statuses",
  );
  process.exit(0);
}

function int(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${raw}`);
    process.exit(2);
  }
  return n;
}

const addressing = values.addressing;
if (addressing !== "private" && addressing !== "loopback") {
  console.error(`--addressing must be private or loopback, got ${addressing}`);
  process.exit(2);
}

function list(name: string, raw: string | undefined, valid: RegExp): string[] {
  const items = (raw ?? "").split(/[,\s]+/).filter((item) => item !== "");
  const bad = items.find((item) => !valid.test(item));
  if (bad !== undefined) {
    console.error(`--${name} has ${JSON.stringify(bad)}, which is not valid`);
    process.exit(2);
  }
  return [...new Set(items)];
}

const accounts = list("accounts", values.accounts, /^\d{12}$/);
const regions = list("regions", values.regions, /^[a-z]{2}(?:-[a-z]+)+-\d$/);
const externalId = values["external-id"];
if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
  console.error("--external-id must be 2 to 1224 letters, digits and any of _+=,.@:/-");
  process.exit(2);
}

const seed = int("seed", values.seed) ?? 1;
const standIn = await startStandIn({
  port: int("port", values.port) ?? 4599,
  host: values.host,
  region: values.region,
  account: values.account,
  seed,
  addressing,
});
const hostsPerCluster = int("hosts-per-cluster", values["hosts-per-cluster"]);
const latency = int("latency", values.latency) ?? 0;
console.log(`ECS/EC2/STS stand-in listening on ${standIn.url}`);

// The default fleet first (seed as given, so a single-account run is unchanged), then one per other
// (account, region), each with its own seed so ids differ between accounts.
const fleets: AccountFleet[] = [];
const primary = standIn.fleetOf(standIn.account, standIn.region);
if (primary) fleets.push(primary);
for (const account of [standIn.account, ...accounts]) {
  for (const region of regions.length > 0 ? regions : [standIn.region]) {
    if (!standIn.fleetOf(account, region)) {
      fleets.push(standIn.addFleet({ account, region, seed: seed + fleets.length, addressing }));
    }
  }
}
for (const [i, accountFleet] of fleets.entries()) {
  const generated = generateFleet(accountFleet, {
    clusters: int("clusters", values.clusters) ?? 3,
    tasks: int("tasks", values.tasks) ?? 200,
    seed: seed + i,
    addressing,
    metadata: !values["no-metadata"],
    ...(hostsPerCluster !== undefined ? { hostsPerCluster } : {}),
  });
  if (values.throttling) accountFleet.faults.throttling(true);
  accountFleet.faults.latency(latency);
  console.log(
    `fleet: ${generated.clusters.length} clusters, ${generated.hosts.length} container instances, ` +
      `${generated.serviceArns.length} services, ${generated.taskArns.length} tasks ` +
      `(region ${accountFleet.region}, account ${accountFleet.account})`,
  );
}
for (const account of accounts) {
  const arn = standIn.addRole({
    arn: readerRoleArn(account),
    ...(externalId !== undefined ? { externalId } : {}),
  });
  console.log(`role: ${arn}${externalId !== undefined ? ` (ExternalId ${externalId})` : ""}`);
}

console.log("\nexport these to point the AWS SDK at it:");
for (const [key, value] of Object.entries(standIn.env())) console.log(`export ${key}=${value}`);
if (accounts.length > 0) {
  console.log(`export ACCOUNTS=${accounts.join(",")}`);
  if (externalId !== undefined) console.log(`export ACCOUNT_ROLE_EXTERNAL_ID=${externalId}`);
}

const shutdown = (): void => {
  standIn.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
