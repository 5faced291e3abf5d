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
  if (input.clusters !== undefined) {
    if (
      !Array.isArray(input.clusters) ||
      input.clusters.length === 0 ||
      !input.clusters.every((c) => typeof c === "string")
    ) {
      throw new InputError(
        `resync payload field "clusters" must be a non-empty array of cluster names or ARNs, got ${preview(input.clusters)}`,
      );
    }
    const bad = input.clusters.find((c) => !isClusterRef(c));
    if (bad !== undefined) {
      throw new InputError(
        `resync payload field "clusters" has ${preview(bad)}, which is neither an ECS cluster name nor a cluster ARN`,
      );
    }
    trigger.clusters = [...new Set(input.clusters as string[])];
  }
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
    throw new InputError(`unknown action ${preview(input.action)}; the only action is "resync"`);
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
