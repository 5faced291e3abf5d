/**
 * Docker labels are typed by people, in task definitions the engine does not control. Whatever they
 * say, label parsing must not throw, every problem must name the label at fault, a bad label costs only
 * what it names (a bad endpoint label its endpoint, a bad setting itself), and everything else is still
 * published — as valid file_sd that the sidecar accepts, since one bad target would make it reject the
 * whole cluster's object.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { ContainerDefinitionSpec, TaskDefinitionSpec, TaskView } from "../../lambda/core/model.js";
import { durationMs, parseEndpoints } from "../../lambda/core/scrape-labels.js";
import { buildTargetGroups } from "../../lambda/core/targets.js";
import { isValidTarget, serializeGroups, validateFileSd } from "../../lambda/shared/file-sd.js";
import { DEFAULT_LABEL_NAMES as DEFAULT_LABELS } from "../../lambda/shared/settings.js";
import { Tally } from "./tally.js";

const N = DEFAULT_LABELS;
const OPTIONS = [N.path, N.scheme, N.jobName, N.serverName, N.interval, N.timeout];
const tally = new Tally("Docker label properties");
afterAll(() => tally.print());

const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const TASK = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef";
const TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/mixed:1";
const GOOD: ContainerDefinitionSpec = {
  name: "good",
  dockerLabels: { [N.port]: "9100", [N.path]: "/metrics", [`${N.port}.admin`]: "9200" },
  portMappings: [{ containerPort: 9100 }, { containerPort: 9200 }],
};

const endpointName = fc.oneof(
  fc.constantFrom("admin", "x_1", "a-b", "", ".", "..", "a/b", "a b", "ü", "x".repeat(64), "a.b"),
  fc.string({ maxLength: 70, unit: "binary-ascii" }),
);
const labelKey = fc.oneof(
  fc.constantFrom(N.port, N.dynamicExport, ...OPTIONS),
  fc.tuple(fc.constantFrom(N.port, ...OPTIONS), endpointName).map(([k, n]) => `${k}.${n}`),
  fc.constantFrom("com.example.team", `${N.port}_`, N.port.toLowerCase(), ` ${N.port}`, `${N.port}.`),
  fc.string({ maxLength: 40 }),
);
const MALFORMED_VALUES = [
  ...["0", "65536", "99999", "-1", "abc", "", " ", "80.0", "1e3", "0x50", "８０", "80\n", "080", "+80"],
  ...["metrics", " /x", "http://h/metrics", "ftp", "HTTP", "https ", "30", "0s", "-1s", "1h-5m", "1m1h", "s"],
  ...["host:9100", "-bad-", "a..b", "1.2.3", "999.1.1.1", "10.1", "ünï.example", "h_1.example", "a.", ".a"],
  ...["true", "yes", "2", "1", "0", "false", "/metrics", "http", "https", "30s", "1m30s", "host.example"],
];
const labelValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...MALFORMED_VALUES) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20, unit: "binary" }) },
  { weight: 1, arbitrary: fc.nat({ max: 200_000 }).map(String) },
  { weight: 1, arbitrary: fc.string({ minLength: 1000, maxLength: 4000 }) },
);
const labelsArb = fc.dictionary(labelKey, labelValue, { maxKeys: 10 });

function taskWith(containers: ContainerDefinitionSpec[]): {
  task: TaskView;
  defs: Map<string, TaskDefinitionSpec>;
} {
  const def: TaskDefinitionSpec = {
    taskDefinitionArn: TD,
    family: "mixed",
    revision: 1,
    networkMode: "awsvpc",
    containers,
  };
  const task: TaskView = {
    taskArn: TASK,
    clusterArn: CLUSTER,
    taskDefinitionArn: TD,
    lastStatus: "RUNNING",
    desiredStatus: "RUNNING",
    launchType: "FARGATE",
    eniPrivateIp: "10.0.0.5",
    containers: containers.map((c) => ({ name: c.name, lastStatus: "RUNNING", networkBindings: [] })),
  };
  return { task, defs: new Map([[TD, def]]) };
}

function build(containers: ContainerDefinitionSpec[]) {
  const { task, defs } = taskWith(containers);
  return buildTargetGroups({
    tasks: [task],
    taskDefinitions: defs,
    hosts: new Map(),
    rules: { labels: N, selectors: [], includeTags: false, includeServices: false, dynamicExportOnly: false },
  });
}

describe("parseEndpoints over arbitrary labels", () => {
  it("never throws, names the label of every problem, and returns only well-formed endpoints", () => {
    fc.assert(
      fc.property(labelsArb, fc.boolean(), (labels, dynamicExportOnly) => {
        let parsed: ReturnType<typeof parseEndpoints>;
        try {
          parsed = parseEndpoints(labels, N, dynamicExportOnly);
        } catch (error) {
          tally.crash("parseEndpoints");
          throw error;
        }
        tally.tried("parseEndpoints", parsed.problems.length > 0);
        for (const problem of parsed.problems) {
          expect(Object.hasOwn(labels, problem.label), `"${problem.label}" is a label of the container`).toBe(
            true,
          );
          expect(problem.message, "says what was dropped or ignored").toMatch(/dropped|ignored/);
        }
        const names = parsed.endpoints.map((e) => e.name);
        expect(new Set(names).size, "one endpoint per name").toBe(names.length);
        for (const e of parsed.endpoints) {
          if (e.port !== undefined) {
            expect(Number.isInteger(e.port) && e.port >= 1 && e.port <= 65535).toBe(true);
          }
          if (e.path !== undefined) expect(e.path).toBe(e.path.trim());
          if (e.path !== undefined) expect(e.path).not.toBe("");
          if (e.scheme !== undefined) expect(["http", "https"]).toContain(e.scheme);
          if (e.interval !== undefined) expect(durationMs(e.interval)).toBeGreaterThan(0);
          if (e.timeout !== undefined) expect(durationMs(e.timeout)).toBeGreaterThan(0);
          if (e.interval !== undefined && e.timeout !== undefined)
            expect(durationMs(e.timeout)).toBeLessThanOrEqual(durationMs(e.interval) ?? 0);
          if (e.job !== undefined) expect(e.job).not.toBe("");
          if (e.serverName !== undefined) {
            const host = e.serverName.includes(":") ? `[${e.serverName}]` : e.serverName;
            expect(isValidTarget(`${host}:1`), "a host the file_sd contract accepts").toBe(true);
          }
        }
        if (dynamicExportOnly) {
          expect(parsed.endpoints.length).toBeLessThanOrEqual(1);
          for (const e of parsed.endpoints) expect(e.port, "the port label is ignored").toBeUndefined();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps a valid port label's endpoint whatever else the container carries", () => {
    fc.assert(
      fc.property(labelsArb, fc.integer({ min: 1, max: 65535 }), (labels, port) => {
        const parsed = parseEndpoints({ ...labels, [N.port]: String(port) }, N);
        tally.tried("unnamed endpoint survives", parsed.problems.length > 0);
        expect(parsed.endpoints.find((e) => e.name === "")?.port).toBe(port);
      }),
      { numRuns: 1500 },
    );
  });
});

describe("buildTargetGroups with bad containers beside a good one", () => {
  it("never throws, warns with task, container and label, still publishes the good container, as valid file_sd", () => {
    fc.assert(
      fc.property(fc.array(labelsArb, { maxLength: 4 }), (others) => {
        const containers = [
          GOOD,
          ...others.map((dockerLabels, i) => ({ name: `c${i}`, dockerLabels, portMappings: [] })),
        ];
        let result: ReturnType<typeof build>;
        try {
          result = build(containers);
        } catch (error) {
          tally.crash("buildTargetGroups");
          throw error;
        }
        tally.tried("buildTargetGroups", result.warnings.length > 0);
        const good = result.groups.filter((g) => g.labels.container_name === "good").map((g) => g.targets[0]);
        expect(good.sort()).toEqual(["10.0.0.5:9100", "10.0.0.5:9200"]);
        for (const w of result.warnings) {
          expect(w.taskArn).toBe(TASK);
          const container = containers.find((c) => c.name === w.container);
          expect(container, "the warning names a container of the task").toBeDefined();
          if (w.label !== undefined) {
            expect(
              Object.hasOwn(container?.dockerLabels ?? {}, w.label),
              "the label is the container's",
            ).toBe(true);
          }
        }
        const check = validateFileSd(Buffer.from(serializeGroups(result.groups)));
        expect(check.ok ? "valid" : check.reason, "what the sidecar will accept").toBe("valid");
      }),
      { numRuns: 1500 },
    );
  });
});

describe("a corpus of malformed labels", () => {
  const port = N.port;
  const IP = "10.0.0.5";
  // [case, docker labels, label at fault, targets the container keeps]
  const corpus: [string, Record<string, string>, string, string[]][] = [
    ["port not a number", { [port]: "abc" }, port, []],
    ["port too large", { [port]: "99999" }, port, []],
    ["port zero", { [port]: "0" }, port, []],
    ["port negative", { [port]: "-1" }, port, []],
    ["port empty", { [port]: "" }, port, []],
    ["port with a unit", { [port]: "80/tcp" }, port, []],
    ["port in hex", { [port]: "0x50" }, port, []],
    ["port in exponent form", { [port]: "8e3" }, port, []],
    ["port in full-width digits", { [port]: "８０８０" }, port, []],
    ["port with two signs", { [port]: "++80" }, port, []],
    ["bad port beside a good named endpoint", { [port]: "x", [`${port}.a`]: "81" }, port, [`${IP}:81`]],
    ["scheme ftp", { [port]: "80", [N.scheme]: "ftp" }, N.scheme, [`${IP}:80`]],
    ["server name with a port", { [port]: "80", [N.serverName]: "host:9100" }, N.serverName, [`${IP}:80`]],
    ["server name with spaces", { [port]: "80", [N.serverName]: "my host" }, N.serverName, [`${IP}:80`]],
    ["server name: only slashes", { [port]: "80", [N.serverName]: "//" }, N.serverName, [`${IP}:80`]],
    [
      "server name: dotted number, not an IPv4 address",
      { [port]: "80", [N.serverName]: "1.2.3" },
      N.serverName,
      [`${IP}:80`],
    ],
    [
      "server name: IPv4 out of range",
      { [port]: "80", [N.serverName]: "999.1.1.1" },
      N.serverName,
      [`${IP}:80`],
    ],
    ["interval without a unit", { [port]: "80", [N.interval]: "30" }, N.interval, [`${IP}:80`]],
    ["interval units out of order", { [port]: "80", [N.interval]: "1m1h" }, N.interval, [`${IP}:80`]],
    ["timeout zero", { [port]: "80", [N.timeout]: "0s" }, N.timeout, [`${IP}:80`]],
    [
      "timeout longer than interval",
      { [port]: "80", [N.interval]: "10s", [N.timeout]: "30s" },
      N.timeout,
      [`${IP}:80`],
    ],
    [
      "named timeout longer than the named interval",
      { [port]: "80", [`${port}.a`]: "81", [`${N.interval}.a`]: "10s", [`${N.timeout}.a`]: "30s" },
      `${N.timeout}.a`,
      [`${IP}:80`, `${IP}:81`],
    ],
    [
      "inherited timeout longer than a named interval",
      { [`${port}.a`]: "81", [`${N.interval}.a`]: "10s", [N.timeout]: "30s" },
      `${N.interval}.a`,
      [`${IP}:81`],
    ],
    ["dynamic export yes", { [N.dynamicExport]: "yes" }, N.dynamicExport, []],
    ["named endpoint with a slash", { [`${port}.a/b`]: "81" }, `${port}.a/b`, []],
    ["named endpoint with no name", { [`${port}.`]: "81" }, `${port}.`, []],
    [
      "named endpoint name too long",
      { [`${port}.${"x".repeat(64)}`]: "81" },
      `${port}.${"x".repeat(64)}`,
      [],
    ],
    ["named endpoint port bad", { [`${port}.admin`]: "http" }, `${port}.admin`, []],
    ["named scheme bad", { [`${port}.a`]: "81", [`${N.scheme}.a`]: "gopher" }, `${N.scheme}.a`, [`${IP}:81`]],
  ];

  it.each(corpus)(
    "%s: one warning naming the label, only what it names is dropped, the rest published",
    (_, labels, label, kept) => {
      const result = build([
        GOOD,
        { name: "bad", dockerLabels: labels, portMappings: [{ containerPort: 80 }] },
      ]);
      tally.tried("corpus", true);
      const warnings = result.warnings.filter((w) => w.container === "bad");
      expect(warnings.map((w) => w.label)).toEqual([label]);
      for (const w of warnings) {
        expect(w.taskArn).toBe(TASK);
        expect(w.message).toMatch(/dropped|ignored/);
      }
      const targetsOf = (name: string) =>
        result.groups.filter((g) => g.labels.container_name === name).map((g) => g.targets[0]);
      expect(targetsOf("bad").sort()).toEqual(kept);
      expect(targetsOf("good").sort()).toEqual(["10.0.0.5:9100", "10.0.0.5:9200"]);
    },
  );

  it.each<[string, Record<string, string>]>([
    ["path without a slash", { [port]: "80", [N.path]: "metrics" }],
    ["path as a URL", { [port]: "80", [N.path]: "http://h/metrics" }],
    ["named path without a slash", { [`${port}.a`]: "81", [`${N.path}.a`]: "m" }],
    ["empty job name", { [port]: "80", [N.jobName]: " " }],
    ["server name with a trailing slash", { [port]: "80", [N.serverName]: "metrics.example/" }],
    ["port with a sign and leading zeros", { [port]: "+0080" }],
  ])("%s: accepted as the old poller accepted it, without a warning", (_, labels) => {
    const result = build([
      GOOD,
      { name: "lax", dockerLabels: labels, portMappings: [{ containerPort: 80 }] },
    ]);
    tally.tried("lenient", false);
    expect(result.warnings).toEqual([]);
    expect(result.groups.filter((g) => g.labels.container_name === "lax")).toHaveLength(1);
  });
});
