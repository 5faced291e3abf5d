#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { AwsClients } from "./aws/clients.js";
import { assembleEngine, assembleExplain, connectAws } from "./compose.js";
import { type EngineConfig, loadEngineConfig } from "./config.js";
import type { Log } from "./engine/deps.js";
import { ClusterListingError } from "./engine/summary.js";
import { explain } from "./explain/explain.js";
import { explainJsonLines, explainTable } from "./explain/format.js";
import { invoke } from "./invoke.js";
import { DirectoryTargetOutput } from "./publish/directory-output.js";
import { S3TargetOutput } from "./publish/s3-output.js";
import type { TargetOutput } from "./publish/target-output.js";
import { checkBucket, checkPrefixes } from "./shared/output-settings.js";
import {
  ConfigError,
  DEFAULT_STATE_PREFIX,
  DEFAULT_TARGETS_PREFIX,
  parseClusterList,
} from "./shared/settings.js";
import { describeError } from "./shared/values.js";
import { InputError, parseInvocation } from "./triggers/parse-trigger.js";

const HELP = `prometheus-ecs-discovery: find the ECS containers Prometheus should scrape and write file_sd JSON.

Usage:
  prometheus-ecs-discovery sync   (--out-dir DIR | --bucket B [--prefix P] [--state-prefix P]) [--cluster NAME]... [--dry-run]
  prometheus-ecs-discovery invoke --event FILE (--out-dir DIR | --bucket B [--prefix P] [--state-prefix P])
  prometheus-ecs-discovery explain [--account ID] [--cluster NAME]... (--task ARN_OR_ID | --service NAME | --family NAME) [--json]
  prometheus-ecs-discovery --help

Commands:
  sync     One reconcile: list the clusters (all, or each --cluster), describe their running tasks and
           write one file_sd file per cluster. With --out-dir, files are DIR/{account}_{region}_{cluster}.json,
           written atomically; with --bucket, objects are s3://B/{prefix}{account}/{region}/{cluster}.json.
  invoke   Run the Lambda handler locally on an event file (an ECS Task State Change event, a Scheduled
           Event, {"action":"resync"}, {"action":"explain",...} or an SQS batch) with the given output, and
           print its result.
  explain  Why each container of a task (or of a service's or a family's tasks, running or stopped in
           the last hour) is a target or not: its targets, or one reason code (no-port-label,
           filtered-out, not-running, no-host-port, bad-label, no-ec2-host, injected-container,
           definition-unavailable, cluster-not-discovered). Reads only; writes nothing. Without
           --cluster it searches every cluster of the region.

Options:
  --out-dir DIR      write file_sd files into DIR
  --bucket B         write objects into S3 bucket B
  --prefix P         S3 key prefix of the file_sd objects (default "${DEFAULT_TARGETS_PREFIX}")
  --state-prefix P   S3 key prefix of the engine's state objects (default "${DEFAULT_STATE_PREFIX}");
                     with --out-dir the state lives in DIR/.state/
  --cluster NAME     a cluster name or ARN; repeatable (default: every cluster, or $CLUSTERS;
                     for explain: the clusters to search, not a change of $CLUSTERS)
  --account ID       explain, with ACCOUNTS: the member account to look in (default: the one a task or
                     cluster ARN names, else the own account)
  --task ARN_OR_ID   explain: one task
  --service NAME     explain: the tasks of a service
  --family NAME      explain: the tasks of a task definition family
  --json             explain: one JSON object per container (cluster, taskArn, container, targets,
                     reason, detail, facts, groups, notes) instead of a table
  --dry-run          print the target groups instead of writing them (sync only)
  --verbose          log progress, not only warnings and errors (logs go to stderr as JSON lines)
  -h, --help         this text

AWS access uses the standard SDK configuration: the credential chain, AWS_REGION, AWS_PROFILE and
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECS / _EC2 / _S3 for local emulators. Docker label names, the filter
label, selectors and tags come from the same environment variables as the Lambda (PORT_LABEL,
FILTER_LABEL, SELECTORS, INCLUDE=TAGS,SERVICES, DYNAMIC_EXPORT, ...; see the README).

Exit status: 0 all clusters published; 1 nothing could be discovered or bad usage; 2 some clusters failed
(their previous files are left as they were). explain: 0 when it found containers to explain, 1 when it
found none (or a named cluster could not be searched).`;

class UsageError extends Error {}

function stderrLog(verbose: boolean): Log {
  const write = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
    process.stderr.write(`${JSON.stringify({ level, message, ...attributes })}\n`);
  };
  const quiet = () => {};
  return {
    debug: quiet,
    info: verbose ? write("INFO") : quiet,
    warn: write("WARN"),
    error: write("ERROR"),
  };
}

const OPTIONS = {
  "out-dir": { type: "string" },
  bucket: { type: "string" },
  prefix: { type: "string" },
  "state-prefix": { type: "string" },
  cluster: { type: "string", multiple: true },
  event: { type: "string" },
  "dry-run": { type: "boolean" },
  task: { type: "string" },
  account: { type: "string" },
  service: { type: "string" },
  family: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

type Command = "sync" | "invoke" | "explain";

const EXPLAIN_ONLY = ["task", "service", "family", "json", "account"] as const;

/** The command, after every check that needs no AWS access. */
function parseCommand(argv: string[]): { command?: Command; values: Values; help: boolean } {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  if (values.help || positionals.length === 0) return { values, help: true };
  const command = positionals[0];
  if (command !== "sync" && command !== "invoke" && command !== "explain")
    throw new UsageError(`unknown command "${command}" (sync, invoke or explain; see --help)`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  if (command === "explain") return { command, values: checkExplain(values), help: false };
  const misplaced = EXPLAIN_ONLY.find((k) => values[k] !== undefined);
  if (misplaced) throw new UsageError(`--${misplaced} goes with explain`);
  if (values["out-dir"] && values.bucket) throw new UsageError("give either --out-dir or --bucket, not both");
  if (!values["out-dir"] && !values.bucket)
    throw new UsageError("an output is required: --out-dir DIR or --bucket B");
  if ((values.prefix !== undefined || values["state-prefix"] !== undefined) && !values.bucket) {
    throw new UsageError("--prefix and --state-prefix go with --bucket");
  }
  if (command === "invoke" && !values.event) throw new UsageError("invoke needs --event FILE");
  if (command === "sync" && values.event) throw new UsageError("--event goes with invoke");
  if (command === "invoke" && values["dry-run"])
    throw new UsageError('--dry-run goes with sync; for invoke use {"action":"resync","dryRun":true}');
  return { command, values, help: false };
}

/** explain reads only: no output, no event; exactly one of --task, --service, --family. */
function checkExplain(values: Values): Values {
  for (const option of ["out-dir", "bucket", "prefix", "state-prefix", "event", "dry-run"] as const)
    if (values[option] !== undefined)
      throw new UsageError(`--${option} does not go with explain, which writes nothing`);
  const asked = (["task", "service", "family"] as const).filter((k) => values[k] !== undefined);
  if (asked.length !== 1) throw new UsageError("explain needs exactly one of --task, --service or --family");
  return values;
}

/** The event to run: the file given to invoke, or a resync for sync. */
async function eventOf(values: Values): Promise<unknown> {
  if (!values.event) return { action: "resync", ...(values["dry-run"] ? { dryRun: true } : {}) };
  let text: string;
  try {
    text = await readFile(values.event, "utf-8");
  } catch (error) {
    throw new UsageError(`cannot read event file ${values.event}: ${describeError(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`event file ${values.event} is not JSON`);
  }
}

/** The region the SDK resolves, and proof that credentials can be found; otherwise a one-line reason. */
async function checkAccess(clients: AwsClients): Promise<string> {
  let region: string;
  try {
    region = await clients.ecs.config.region();
  } catch {
    region = "";
  }
  if (!region) throw new ConfigError("AWS_REGION", "is not set and no region is configured for the AWS SDK");
  try {
    await clients.ecs.config.credentials();
  } catch (error) {
    throw new Error(`no AWS credentials: ${describeError(error)}`);
  }
  return region;
}

function outputOf(values: Values, clients: AwsClients): TargetOutput {
  if (!values.bucket) return new DirectoryTargetOutput(values["out-dir"] as string);
  const { prefix, statePrefix } = checkPrefixes(
    values.prefix ?? DEFAULT_TARGETS_PREFIX,
    values["state-prefix"] ?? DEFAULT_STATE_PREFIX,
    { prefix: "--prefix", statePrefix: "--state-prefix" },
  );
  return new S3TargetOutput(clients.s3, checkBucket(values.bucket, "--bucket"), prefix, statePrefix);
}

async function main(argv: string[]): Promise<number> {
  const { command, values, help } = parseCommand(argv);
  if (help || !command) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? 0 : 1;
  }
  const config = loadEngineConfig(process.env);
  if (command === "explain") return explainCommand(values, config);
  if (values.cluster) config.clusters = parseClusterList(values.cluster.join(","), "--cluster");
  const event = await eventOf(values);
  const aws = connectAws({ maxAttempts: config.maxAttempts });
  const region = await checkAccess(aws.clients);
  const output = outputOf(values, aws.clients);
  const deps = assembleEngine(aws, { config, output, log: stderrLog(values.verbose ?? false), region });
  try {
    const { summary, result } = await invoke(event, deps);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (!summary) return "containers" in result && result.containers.length > 0 ? 0 : 1;
    return summary.ok ? 0 : 2;
  } catch (error) {
    if (error instanceof ClusterListingError)
      process.stdout.write(`${JSON.stringify(error.summary, null, 2)}\n`);
    throw error;
  }
}

/** explain: the request checked as the function checks its payload, then read and printed. */
async function explainCommand(values: Values, config: EngineConfig): Promise<number> {
  const payload: Record<string, unknown> = { action: "explain" };
  for (const key of ["task", "service", "family", "account"] as const)
    if (values[key] !== undefined) payload[key] = values[key];
  if (values.cluster) payload.clusters = parseClusterList(values.cluster.join(","), "--cluster");
  const request = parseInvocation(payload);
  if (request.kind !== "explain") throw new UsageError("explain needs --task, --service or --family");
  const { kind: _, ...query } = request;
  const aws = connectAws({ maxAttempts: config.maxAttempts });
  const region = await checkAccess(aws.clients);
  const report = await explain(assembleExplain(aws, { config, region }), query);
  if (values.json) {
    process.stdout.write(explainJsonLines(report));
    for (const missing of report.notFound)
      process.stderr.write(`prometheus-ecs-discovery: not found: ${missing}\n`);
    for (const e of report.errors)
      process.stderr.write(`prometheus-ecs-discovery: not searched: ${e.cluster}: ${e.error}\n`);
  } else process.stdout.write(explainTable(report));
  return report.containers.length > 0 ? 0 : 1;
}

/** Errors of this program say all there is in their message; others get their name and status too. */
function reasonOf(error: unknown): string {
  if (error instanceof UsageError || error instanceof InputError || error instanceof ConfigError)
    return error.message;
  if (error instanceof ClusterListingError) return `error: ${error.message}`;
  return `error: ${describeError(error)}`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`prometheus-ecs-discovery: ${reasonOf(error)}\n`);
    process.exitCode = 1;
  },
);
