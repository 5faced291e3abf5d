import { parseArgs } from "node:util";
import { generateFleet } from "./generate.js";
import { startStandIn } from "./server.js";

/**
 * Runs the stand-in on its own, with a generated fleet:
 *   npx tsx test/standin/main.ts --port 4599 --tasks 200 --clusters 3
 * and prints the environment that points the AWS SDK (and this project's CLI) at it.
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

const standIn = await startStandIn({
  port: int("port", values.port) ?? 4599,
  host: values.host,
  region: values.region,
  account: values.account,
  seed: int("seed", values.seed) ?? 1,
  addressing,
});
const hostsPerCluster = int("hosts-per-cluster", values["hosts-per-cluster"]);
const generated = generateFleet(standIn, {
  clusters: int("clusters", values.clusters) ?? 3,
  tasks: int("tasks", values.tasks) ?? 200,
  seed: int("seed", values.seed) ?? 1,
  addressing,
  metadata: !values["no-metadata"],
  ...(hostsPerCluster !== undefined ? { hostsPerCluster } : {}),
});
if (values.throttling) standIn.faults.throttling(true);
standIn.faults.latency(int("latency", values.latency) ?? 0);

console.log(`ECS/EC2 stand-in listening on ${standIn.url}`);
console.log(
  `fleet: ${generated.clusters.length} clusters, ${generated.hosts.length} container instances, ` +
    `${generated.serviceArns.length} services, ${generated.taskArns.length} tasks ` +
    `(region ${standIn.region}, account ${standIn.account})`,
);
console.log("\nexport these to point the AWS SDK at it:");
for (const [key, value] of Object.entries(standIn.env())) console.log(`export ${key}=${value}`);

const shutdown = (): void => {
  standIn.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
