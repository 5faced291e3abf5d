import { parseClusterArn, type TaskView } from "../core/model.js";
import { normalizeTask } from "../core/normalize.js";
import { isClusterRef } from "../shared/settings.js";
import { isRecord } from "../shared/values.js";

export interface TaskEventTrigger {
  kind: "task-event";
  clusterArn: string;
  taskArn: string;
  region: string;
  account: string;
  /** The task as the event carries it (DescribeTasks shape with ISO timestamps, no docker labels or tags). */
  task: TaskView;
}

export interface ScheduleTrigger {
  kind: "schedule";
}

export interface ResyncTrigger {
  kind: "resync";
  dryRun: boolean;
  /** Limits the run to these clusters (names or ARNs); absent means all configured clusters. */
  clusters?: string[];
  /** Publishes even what the churn guard would hold back. */
  force: boolean;
}

export type SingleTrigger = TaskEventTrigger | ScheduleTrigger | ResyncTrigger;

export interface QueueItem {
  messageId: string;
  trigger?: SingleTrigger;
  error?: string;
}

export interface QueueTrigger {
  kind: "queue";
  items: QueueItem[];
}

export type Trigger = SingleTrigger | QueueTrigger;

/** `{"action":"explain", …}`: read-only, answered directly, never queued. */
export interface ExplainTrigger {
  kind: "explain";
  account?: string;
  clusters?: string[];
  task?: string;
  service?: string;
  family?: string;
}

export type Invocation = Trigger | ExplainTrigger;

/** Input the handler cannot act on; the message says what was expected and what was wrong. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

const EXPECTED =
  'expected an "ECS Task State Change" event, a "Scheduled Event", {"action":"resync"} or an SQS batch of events';

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // A payload nested deeper than the stack (a few hundred KB of "[[[[…") defeats JSON.stringify and
    // String() alike: the error message must still be an InputError, not a RangeError.
    text = Array.isArray(value)
      ? "(an array nested too deeply to show)"
      : `(${typeof value} too deep to show)`;
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function parseResync(input: Record<string, unknown>): ResyncTrigger {
  const allowed = new Set(["action", "dryRun", "clusters", "force"]);
  const unknown = Object.keys(input).filter((k) => !allowed.has(k));
  if (unknown.length > 0) {
    throw new InputError(
      `resync payload has unknown field(s) ${unknown.map((k) => `"${k}"`).join(", ")}; allowed: action, dryRun, clusters, force`,
    );
  }
  if (input.dryRun !== undefined && typeof input.dryRun !== "boolean") {
    throw new InputError(`resync payload field "dryRun" must be true or false, got ${preview(input.dryRun)}`);
  }
  if (input.force !== undefined && typeof input.force !== "boolean") {
    throw new InputError(`resync payload field "force" must be true or false, got ${preview(input.force)}`);
  }
  const trigger: ResyncTrigger = {
    kind: "resync",
    dryRun: input.dryRun === true,
    force: input.force === true,
  };
  const clusters = parseClusterField(input, "resync");
  if (clusters) trigger.clusters = clusters;
  return trigger;
}

function parseTaskEvent(input: Record<string, unknown>): TaskEventTrigger {
  const detail = input.detail;
  if (!isRecord(detail)) throw new InputError('ECS Task State Change event has no "detail" object');
  const clusterArn = detail.clusterArn;
  const taskArn = detail.taskArn;
  if (typeof clusterArn !== "string" || !parseClusterArn(clusterArn)) {
    throw new InputError(
      `ECS Task State Change event has no valid detail.clusterArn (got ${preview(clusterArn)})`,
    );
  }
  if (typeof taskArn !== "string" || !taskArn.startsWith("arn:")) {
    throw new InputError(`ECS Task State Change event has no valid detail.taskArn (got ${preview(taskArn)})`);
  }
  const cluster = parseClusterArn(clusterArn);
  const normalized = normalizeTask(detail);
  if ("problem" in normalized) throw new InputError(`ECS Task State Change event: ${normalized.problem}`);
  return {
    kind: "task-event",
    clusterArn,
    taskArn,
    region: typeof input.region === "string" ? input.region : (cluster?.region ?? ""),
    account: typeof input.account === "string" ? input.account : (cluster?.accountId ?? ""),
    task: normalized.task,
  };
}

export function parseSingle(input: unknown): SingleTrigger {
  if (!isRecord(input)) throw new InputError(`${EXPECTED}; got ${preview(input)}`);
  if ("action" in input) {
    if (input.action === "resync") return parseResync(input);
    if (input.action === "explain")
      throw new InputError(
        '"explain" is answered by a direct invocation of the function, not through the queue',
      );
    throw new InputError(`unknown action ${preview(input.action)}; the actions are "resync" and "explain"`);
  }
  const source = input.source;
  const detailType = input["detail-type"];
  if (source === "aws.ecs" && detailType === "ECS Task State Change") return parseTaskEvent(input);
  if (source === "aws.events" && detailType === "Scheduled Event") return { kind: "schedule" };
  if (typeof source === "string" || typeof detailType === "string") {
    throw new InputError(
      `unsupported event (source ${preview(source)}, detail-type ${preview(detailType)}); ${EXPECTED}`,
    );
  }
  throw new InputError(`${EXPECTED}; got ${preview(input)}`);
}

/** Classifies the handler's input. Throws InputError for anything it does not recognise. */
export function parseTrigger(input: unknown): Trigger {
  if (isRecord(input) && Array.isArray(input.Records)) {
    const items: QueueItem[] = input.Records.map((record: unknown, i: number): QueueItem => {
      const messageId = isRecord(record) && typeof record.messageId === "string" ? record.messageId : `#${i}`;
      if (!isRecord(record) || record.eventSource !== "aws:sqs" || typeof record.body !== "string") {
        return { messageId, error: "not an SQS record with a string body" };
      }
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        return { messageId, error: "SQS message body is not JSON" };
      }
      try {
        return { messageId, trigger: parseSingle(body) };
      } catch (error) {
        return { messageId, error: (error as Error).message };
      }
    });
    return { kind: "queue", items };
  }
  return parseSingle(input);
}

function parseClusterField(input: Record<string, unknown>, payload: string): string[] | undefined {
  if (input.clusters === undefined) return undefined;
  const clusters = input.clusters;
  if (!Array.isArray(clusters) || clusters.length === 0 || !clusters.every((c) => typeof c === "string")) {
    throw new InputError(
      `${payload} payload field "clusters" must be a non-empty array of cluster names or ARNs, got ${preview(clusters)}`,
    );
  }
  const bad = clusters.find((c) => !isClusterRef(c));
  if (bad !== undefined) {
    throw new InputError(
      `${payload} payload field "clusters" has ${preview(bad)}, which is neither an ECS cluster name nor a cluster ARN`,
    );
  }
  return [...new Set(clusters as string[])];
}

function parseExplain(input: Record<string, unknown>): ExplainTrigger {
  const allowed = new Set(["action", "account", "clusters", "task", "service", "family"]);
  const unknown = Object.keys(input).filter((k) => !allowed.has(k));
  if (unknown.length > 0) {
    throw new InputError(
      `explain payload has unknown field(s) ${unknown.map((k) => `"${k}"`).join(", ")}; allowed: action, account, clusters, task, service, family`,
    );
  }
  const given = (["task", "service", "family"] as const).filter((k) => input[k] !== undefined);
  if (given.length !== 1)
    throw new InputError('explain payload needs exactly one of "task", "service" or "family"');
  const key = given[0] as "task" | "service" | "family";
  const value = input[key];
  if (typeof value !== "string" || value.trim() === "" || value.length > 1600)
    throw new InputError(`explain payload field "${key}" must be a non-empty string, got ${preview(value)}`);
  const trigger: ExplainTrigger = { kind: "explain", [key]: value.trim() };
  const clusters = parseClusterField(input, "explain");
  if (clusters) trigger.clusters = clusters;
  if (input.account !== undefined) {
    if (typeof input.account !== "string" || !/^\d{12}$/.test(input.account))
      throw new InputError(
        `explain payload field "account" must be a 12-digit account id, got ${preview(input.account)}`,
      );
    trigger.account = input.account;
  }
  return trigger;
}

/** Classifies a direct invocation: an explain request, or any trigger `parseTrigger` knows. */
export function parseInvocation(input: unknown): Invocation {
  if (isRecord(input) && input.action === "explain") return parseExplain(input);
  return parseTrigger(input);
}
