/**
 * The handler's input is anything EventBridge, SQS or a person with `aws lambda invoke` sends. The
 * contract: parseTrigger returns a trigger or throws an InputError with a clear message, never anything
 * else; bad input makes no AWS call and changes nothing; whatever an accepted event says, what gets
 * published is file_sd the sidecar accepts.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { CallCounter } from "../../lambda/aws/call-counter.js";
import { loadEngineConfig } from "../../lambda/config.js";
import type { TaskDefinitionSpec } from "../../lambda/core/model.js";
import { buildTargetGroups } from "../../lambda/core/targets.js";
import { createCaches } from "../../lambda/discovery/caches.js";
import type { EngineDeps } from "../../lambda/engine/deps.js";
import type { RunSummary } from "../../lambda/engine/summary.js";
import { invoke } from "../../lambda/invoke.js";
import type { StoredObject } from "../../lambda/publish/target-output.js";
import { serializeGroups, validateFileSd } from "../../lambda/shared/file-sd.js";
import { isClusterRef } from "../../lambda/shared/settings.js";
import { type ClusterState, STATE_SCHEMA, serializeState } from "../../lambda/state/cluster-state.js";
import { InputError, parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { recordingLog } from "../support/engine-harness.js";
import { RecordingOutput, RefusingApi } from "./recording.js";
import { Tally } from "./tally.js";

const tally = new Tally("Handler input properties");
afterAll(() => tally.print());

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const CLUSTER = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/prod`;
const TD = `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/api:3`;
const OLD_TASK = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/prod/00000000000000000000000000000001`;
const NEW_TASK = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/prod/00000000000000000000000000000002`;

const DEF: TaskDefinitionSpec = {
  taskDefinitionArn: TD,
  family: "api",
  revision: 3,
  networkMode: "awsvpc",
  containers: [
    {
      name: "api",
      dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100" },
      portMappings: [{ containerPort: 9100 }],
    },
  ],
};

/** Cluster prod as the engine left it: one task, its definition cached, so an event needs no AWS call. */
function seed(): Map<string, StoredObject> {
  const state: ClusterState = {
    schema: STATE_SCHEMA,
    clusterArn: CLUSTER,
    tasks: {
      [OLD_TASK]: {
        taskArn: OLD_TASK,
        clusterArn: CLUSTER,
        taskDefinitionArn: TD,
        launchType: "FARGATE",
        lastStatus: "RUNNING",
        desiredStatus: "RUNNING",
        version: 2,
        eniPrivateIp: "10.0.0.1",
        containers: [{ name: "api", lastStatus: "RUNNING", networkBindings: [] }],
        seenAt: 1,
      },
    },
    tombstones: {},
    taskDefinitions: { [TD]: DEF },
    hosts: {},
  };
  const groups = buildTargetGroups({
    tasks: Object.values(state.tasks),
    taskDefinitions: new Map([[TD, DEF]]),
    hosts: new Map(),
    rules: loadEngineConfig({}).rules,
  }).groups;
  return new Map([
    [`state/${ACCOUNT}/${REGION}/prod.json`, { body: serializeState(state), etag: '"s1"' }],
    [`targets/${ACCOUNT}/${REGION}/prod.json`, { body: serializeGroups(groups), etag: '"t1"' }],
  ]);
}

function goodEvent(): Record<string, unknown> {
  return {
    version: "0",
    id: "3317b2af-7005-947d-b652-f55e762e571a",
    "detail-type": "ECS Task State Change",
    source: "aws.ecs",
    account: ACCOUNT,
    time: "2024-01-23T17:57:58Z",
    region: REGION,
    resources: [NEW_TASK],
    detail: {
      clusterArn: CLUSTER,
      taskArn: NEW_TASK,
      taskDefinitionArn: TD,
      launchType: "FARGATE",
      lastStatus: "RUNNING",
      desiredStatus: "RUNNING",
      group: "service:api",
      version: 3,
      attachments: [
        {
          type: "eni",
          status: "ATTACHED",
          details: [
            { name: "subnetId", value: "subnet-1" },
            { name: "privateIPv4Address", value: "10.0.0.2" },
          ],
        },
      ],
      containers: [
        {
          name: "api",
          lastStatus: "RUNNING",
          networkInterfaces: [{ privateIpv4Address: "10.0.0.2" }],
        },
      ],
    },
  };
}

function deps(output: RecordingOutput, api: RefusingApi) {
  const { log, lines } = recordingLog();
  const d: EngineDeps = {
    api,
    output,
    config: loadEngineConfig({}),
    caches: createCaches(),
    log,
    counter: new CallCounter(),
    region: REGION,
    accountId: ACCOUNT,
  };
  return { deps: d, lines };
}

/** A clear message says what was wrong or what was expected, and stays short enough to read in a log. */
function expectClear(error: unknown): void {
  expect(error).toBeInstanceOf(InputError);
  const message = (error as Error).message;
  expect(message.length).toBeGreaterThan(10);
  expect(message.length).toBeLessThan(1200);
  expect(message).toMatch(
    /expected|must|unknown|unsupported|no valid|has no|neither|ECS Task State Change event/,
  );
}

/** parseTrigger's contract, counted; returns the InputError if there was one. */
function classify(
  name: string,
  input: unknown,
): { error?: InputError; trigger?: ReturnType<typeof parseTrigger> } {
  try {
    const trigger = parseTrigger(input);
    tally.tried(name, false);
    return { trigger };
  } catch (error) {
    if (!(error instanceof InputError)) {
      tally.crash(name);
      throw error;
    }
    tally.tried(name, true);
    expectClear(error);
    return { error };
  }
}

const jsonish = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      null,
      undefined,
      0,
      -1,
      1e308,
      "",
      "RUNNING",
      "STOPPED",
      [],
      {},
      [{}],
      "arn:aws:ecs:us-east-1:123456789012:cluster/other",
      "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
      "arn:aws:ecs:us-east-1:123456789012:task/prod/x",
      "10.0.0.300",
      "not an address",
      "::1",
      "1.2.3",
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.nat({ max: 3 }).map((n) => "x".repeat(10 ** (n + 2))) },
);

type Path = (string | number)[];
const PATHS: Path[] = [
  ["source"],
  ["detail-type"],
  ["region"],
  ["account"],
  ["detail"],
  ["detail", "clusterArn"],
  ["detail", "taskArn"],
  ["detail", "taskDefinitionArn"],
  ["detail", "lastStatus"],
  ["detail", "desiredStatus"],
  ["detail", "launchType"],
  ["detail", "version"],
  ["detail", "group"],
  ["detail", "attachments"],
  ["detail", "attachments", 0, "type"],
  ["detail", "attachments", 0, "details"],
  ["detail", "attachments", 0, "details", 1, "value"],
  ["detail", "containers"],
  ["detail", "containers", 0],
  ["detail", "containers", 0, "name"],
  ["detail", "containers", 0, "lastStatus"],
  ["detail", "containers", 0, "networkInterfaces"],
  ["detail", "containers", 0, "networkInterfaces", 0, "privateIpv4Address"],
  ["detail", "containerInstanceArn"],
  ["detail", "unknownField"],
  ["unknownTopLevel"],
];

function setPath(root: unknown, path: Path, value: unknown): void {
  let at = root as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) {
    const next = at?.[step];
    if (typeof next !== "object" || next === null) return;
    at = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

const mutatedEvent = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom(...PATHS), jsonish), { minLength: 1, maxLength: 3 }),
    fc.constantFrom("as is", "as is", "as is", "in an array", "as a string", "detail only"),
  )
  .map(([edits, wrap]) => {
    const event = goodEvent();
    for (const [path, value] of edits) setPath(event, path, value);
    if (wrap === "in an array") return [event];
    if (wrap === "as a string") return JSON.stringify(event);
    if (wrap === "detail only") return event.detail;
    return event;
  });

describe("parseTrigger over anything", () => {
  it("returns a trigger or throws a clear InputError, for arbitrary values", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything()), (input) => {
        classify("parseTrigger(arbitrary)", input);
      }),
      { numRuns: 3000 },
    );
  });

  it("the same for ECS events mangled field by field", () => {
    fc.assert(
      fc.property(mutatedEvent, (input) => {
        const { trigger } = classify("parseTrigger(mangled event)", input);
        if (trigger?.kind === "task-event") {
          expect(trigger.clusterArn).toMatch(/^arn:aws[a-z-]*:ecs:/);
          expect(trigger.taskArn).toMatch(/^arn:/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("manual payloads are accepted exactly when they are the documented ones", () => {
    const key = fc.constantFrom(
      "action",
      "dryRun",
      "clusters",
      "force",
      "Force",
      "dry_run",
      "cluster",
      "purge",
    );
    const value = fc.oneof(
      fc.constantFrom(
        "resync",
        "Resync",
        "sync",
        true,
        false,
        "true",
        1,
        null,
        [],
        ["prod"],
        ["a b"],
        ["../x"],
      ),
      fc.array(fc.constantFrom("prod", CLUSTER, "", "a/b", "x".repeat(256), 7), { maxLength: 3 }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const allowed = new Set(["action", "dryRun", "clusters", "force"]);
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), fc.boolean(), (payload, withAction) => {
        if (withAction) payload.action = "resync";
        const input = JSON.parse(JSON.stringify(payload)) as Record<string, unknown>;
        const problems: string[] = [];
        if (!("action" in input)) problems.push("(no action)");
        else if (input.action !== "resync") problems.push("action");
        else {
          for (const k of Object.keys(input)) if (!allowed.has(k)) problems.push(k);
          for (const k of ["dryRun", "force"])
            if (input[k] !== undefined && typeof input[k] !== "boolean") problems.push(k);
          const c = input.clusters;
          const goodClusters =
            c === undefined ||
            (Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === "string" && isClusterRef(x)));
          if (!goodClusters) problems.push("clusters");
        }
        const { error, trigger } = classify("manual payload", input);
        if (problems.length === 0) {
          expect(error, `${JSON.stringify(input)} is documented`).toBeUndefined();
          expect(trigger).toMatchObject({
            kind: "resync",
            dryRun: input.dryRun === true,
            force: input.force === true,
          });
        } else {
          expect(error, `${JSON.stringify(input)} is not documented`).toBeDefined();
          const named = problems.some((p) =>
            p === "(no action)"
              ? /expected/.test(error?.message ?? "")
              : error?.message.includes(`"${p}"`) ||
                (p === "action" && /unknown action/.test(error?.message ?? "")),
          );
          expect(named, `the message names what is wrong: ${error?.message}`).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("a corpus of bad input", () => {
  const proto = JSON.parse('{"action":"resync","__proto__":{"force":true}}');
  const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
  const ev = (detail: unknown, extra: Record<string, unknown> = {}) => ({
    source: "aws.ecs",
    "detail-type": "ECS Task State Change",
    ...extra,
    ...(detail === undefined ? {} : { detail }),
  });
  const corpus: [string, unknown, RegExp][] = [
    ["null", null, /expected an "ECS Task State Change" event/],
    ["a number", 42, /expected/],
    ["a string", "resync", /expected/],
    ["an array", [goodEvent()], /expected/],
    ["an empty object", {}, /expected/],
    ["no detail", ev(undefined), /no "detail" object/],
    ["detail null", ev(null), /no "detail" object/],
    ["detail an array", ev([goodEvent().detail]), /no "detail" object/],
    ["detail a string", ev("{}"), /no "detail" object/],
    ["clusterArn a number", ev({ clusterArn: 5, taskArn: NEW_TASK }), /detail.clusterArn/],
    [
      "clusterArn of a short account",
      ev({ clusterArn: "arn:aws:ecs:us-east-1:123:cluster/x" }),
      /detail.clusterArn/,
    ],
    ["clusterArn with a path", ev({ clusterArn: `${CLUSTER}/../x`, taskArn: NEW_TASK }), /detail.clusterArn/],
    ["taskArn missing", ev({ clusterArn: CLUSTER }), /detail.taskArn/],
    ["taskArn not an ARN", ev({ clusterArn: CLUSTER, taskArn: "task-1" }), /detail.taskArn/],
    ["no taskDefinitionArn", ev({ clusterArn: CLUSTER, taskArn: NEW_TASK }), /taskDefinitionArn/],
    [
      "another detail-type",
      { source: "aws.ecs", "detail-type": "ECS Container Instance State Change" },
      /unsupported event/,
    ],
    [
      "a deployment event",
      { source: "aws.ecs", "detail-type": "ECS Deployment State Change" },
      /unsupported event/,
    ],
    ["another source", { source: "aws.ec2", "detail-type": "ECS Task State Change" }, /unsupported event/],
    ["detail-type a number", { source: "aws.ecs", "detail-type": 7 }, /unsupported event/],
    ["action in lower case", { action: "Resync" }, /unknown action "Resync"/],
    ["action null", { action: null }, /unknown action null/],
    ["dryRun as a string", { action: "resync", dryRun: "true" }, /"dryRun" must be true or false/],
    ["force as a number", { action: "resync", force: 1 }, /"force" must be true or false/],
    ["force misspelt", { action: "resync", Force: true }, /unknown field\(s\) "Force".*allowed: .*force/],
    ["clusters a string", { action: "resync", clusters: "prod" }, /"clusters" must be a non-empty array/],
    ["clusters empty", { action: "resync", clusters: [] }, /"clusters" must be a non-empty array/],
    ["clusters with a number", { action: "resync", clusters: [1] }, /"clusters" must be a non-empty array/],
    ["clusters with a path", { action: "resync", clusters: ["../etc"] }, /neither an ECS cluster name/],
    [
      "a cluster of another service",
      { action: "resync", clusters: ["arn:aws:eks:us-east-1:123456789012:cluster/x"] },
      /neither/,
    ],
    ["cluster instead of clusters", { action: "resync", cluster: ["prod"] }, /unknown field\(s\) "cluster"/],
    ["__proto__ smuggling force", proto, /unknown field\(s\) "__proto__"/],
    ["nested 100 000 deep", deep, /expected .*nested too deeply/],
    [
      "a 5 MB cluster ARN",
      ev({ clusterArn: "x".repeat(5_000_000), taskArn: NEW_TASK }),
      /detail.clusterArn \(got "x{100}/,
    ],
    ["SQS records not an array", { Records: "x" }, /expected/],
  ];

  it.each(corpus)("%s → a clear InputError, no AWS call, nothing changed", async (_name, input, message) => {
    const { error } = classify("corpus", input);
    expect(error?.message).toMatch(message);
    const output = new RecordingOutput(seed());
    const api = new RefusingApi();
    const { deps: d, lines } = deps(output, api);
    await expect(invoke(input, d)).rejects.toBeInstanceOf(InputError);
    expect(output.writes).toEqual([]);
    expect(output.removals).toEqual([]);
    expect(api.calls).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: "error", message: "rejected input; nothing was changed" }),
    );
  });

  it("the unmangled event is applied with no AWS call (the baseline the properties mangle)", async () => {
    const output = new RecordingOutput(seed());
    const api = new RefusingApi();
    const summary = (await invoke(goodEvent(), deps(output, api).deps)).summary;
    expect(summary?.events.applied).toBe(1);
    expect(api.calls).toEqual([]);
    expect(output.objects.get(`targets/${ACCOUNT}/${REGION}/prod.json`)?.body).toContain("10.0.0.2:9100");
  });
});

describe("invoke() over bad input", () => {
  it("a rejected event makes no AWS call and no write; an accepted one publishes only valid file_sd", async () => {
    await fc.assert(
      fc.asyncProperty(mutatedEvent, async (input) => {
        const { error } = classify("invoke(mangled event)", input);
        const output = new RecordingOutput(seed());
        const api = new RefusingApi();
        const { deps: d } = deps(output, api);
        if (error) {
          await expect(invoke(input, d)).rejects.toBeInstanceOf(InputError);
          expect(output.writes).toEqual([]);
          expect(api.calls).toEqual([]);
          return;
        }
        let summary: RunSummary;
        try {
          const answer = await invoke(input, d);
          if (!answer.summary) throw new Error("a mangled task event was taken for an explain request");
          summary = answer.summary;
        } catch (e) {
          tally.crash("invoke(mangled event)");
          throw e;
        }
        if (summary.skipped) expect(output.writes).toEqual([]);
        for (const w of output.writes) {
          if (!w.key.startsWith("targets/")) continue;
          const check = validateFileSd(Buffer.from(w.body));
          expect(
            check.ok ? "valid" : check.reason,
            `published after ${JSON.stringify(input).slice(0, 300)}`,
          ).toBe("valid");
        }
      }),
      { numRuns: 800 },
    );
  });

  it("an SQS batch of garbage: every bad message handed back, nothing written, no AWS call", async () => {
    const record = fc.oneof(
      jsonish,
      fc.record({ messageId: fc.string(), eventSource: fc.constantFrom("aws:sqs", "aws:sns", 1) }),
      fc.record({
        eventSource: fc.constant("aws:sqs"),
        body: fc.oneof(
          fc.string(),
          jsonish.map((v) => JSON.stringify(v) ?? ""),
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 6 }), async (raw) => {
        const records = raw.map((r, i) =>
          typeof r === "object" && r !== null && !Array.isArray(r) ? { ...r, messageId: `m${i}` } : r,
        );
        const input = { Records: records };
        const { trigger } = classify("SQS batch", input);
        expect(trigger?.kind).toBe("queue");
        const items = trigger?.kind === "queue" ? trigger.items : [];
        const output = new RecordingOutput(seed());
        const api = new RefusingApi();
        const { deps: d, lines } = deps(output, api);
        const result = (await invoke(input, d)).result as { batchItemFailures: { itemIdentifier: string }[] };
        const handedBack = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
        for (const item of items)
          if (item.error) expect(handedBack.has(item.messageId), item.error).toBe(true);
        if (items.every((i) => i.error)) {
          expect(output.writes).toEqual([]);
          expect(api.calls).toEqual([]);
          expect(lines.filter((l) => l.message === "queue message rejected")).toHaveLength(items.length);
        }
      }),
      { numRuns: 500 },
    );
  });
});
