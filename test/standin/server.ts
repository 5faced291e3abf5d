import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AccountFleet,
  type AddFleetOptions,
  type Caller,
  Fleets,
  Principals,
  parseSigV4,
  type Resolution,
} from "./accounts.js";
import { type CounterSnapshot, type Counters, sumSnapshots } from "./counters.js";
import { ec2ErrorXml, ec2Status, handleEc2, isEc2Action } from "./ec2-protocol.js";
import { ECS_TARGET_PREFIX, handleEcs, isEcsOperation } from "./ecs-protocol.js";
import { ApiError, credentialError, THROTTLE_CODES } from "./errors.js";
import { type FaultRule, type Faults, nameOf } from "./faults.js";
import type { Fleet } from "./fleet.js";
import type { FleetOptions } from "./model.js";
import {
  accountOfRole,
  isStsAction,
  isStsRequest,
  type RoleOptions,
  Sts,
  stsErrorXml,
  stsFault,
} from "./sts-protocol.js";

/**
 * The HTTP front of the stand-in: one loopback port speaking ECS (awsJson1_1, recognised by its
 * X-Amz-Target header), EC2 (ec2 query, a form body) and STS (AWS query, a form body with STS's Version),
 * so the real SDK clients run against it. Requests go to the fleet of the account of their credentials
 * and the region of their SigV4 signature.
 */
export interface StandInOptions extends FleetOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
}

export interface StandIn {
  /** `http://127.0.0.1:PORT`: pass as `endpoint` to ECSClient/EC2Client/STSClient. */
  url: string;
  port: number;
  /** The default region and account, and their fleet, counters and faults. */
  region: string;
  account: string;
  fleet: Fleet;
  counters: Counters;
  faults: Faults;
  /** Adds the fleet of another (account, region), with its own counters, faults and token buckets. */
  addFleet(options: AddFleetOptions): AccountFleet;
  /** The fleet of an (account, region): added, the default one, or created empty by a request. */
  fleetOf(account: string, region: string): AccountFleet | undefined;
  /** Every fleet, the default one first. */
  fleets(): AccountFleet[];
  /** Long-term keys belong to the default account unless mapped here. */
  addAccessKey(accessKeyId: string, account: string): void;
  /** A role AssumeRole can assume (same as `sts.addRole`); returns its ARN. */
  addRole(role: RoleOptions): string;
  sts: Sts;
  /** Calls of every fleet and of STS together. */
  totalCounters(): CounterSnapshot;
  /**
   * Environment for a child process using the standard SDK configuration (endpoints of ECS, EC2 and
   * STS, the default region, dummy long-term keys of the default account).
   */
  env(): Record<string, string>;
  /** Stops listening and drops every open connection, including requests held by a `timeout` fault. */
  close(): Promise<void>;
}

export async function startStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const fleets = new Fleets(options);
  const primary = fleets.primary;
  const principals = new Principals(primary.account);
  const sts = new Sts(principals);
  const timers = new Map<NodeJS.Timeout, () => void>();
  let closed = false;

  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            resolve();
          }, ms);
          timers.set(timer, resolve);
        });

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.method !== "POST") {
      res
        .writeHead(req.url === "/health" ? 200 : 404, { "content-type": "text/plain" })
        .end("prometheus-ecs-discovery stand-in\n");
      return;
    }
    const scope = parseSigV4(header(req, "authorization"));
    const resolution = principals.resolve(scope, header(req, "x-amz-security-token"), Date.now());
    // Unsigned requests (tests using fetch) are the default account's, in the default region.
    const route = (): AccountFleet => fleets.route(resolution.account, scope?.region ?? primary.region);
    const target = req.headers["x-amz-target"];
    if (typeof target === "string") return handleEcsRequest(target, body, res, resolution, route());
    const params = new URLSearchParams(body);
    if (isStsRequest(params, scope?.service)) return handleStsRequest(params, res, resolution);
    return handleEc2Request(params, res, resolution, route());
  }

  async function handleEcsRequest(
    target: string,
    body: string,
    res: ServerResponse,
    resolution: Resolution,
    { fleet, counters, faults }: AccountFleet,
  ): Promise<void> {
    const operation = target.startsWith(ECS_TARGET_PREFIX) ? target.slice(ECS_TARGET_PREFIX.length) : target;
    counters.call(operation);
    const send = (status: number, payload: unknown, errorCode?: string): void => {
      if (res.destroyed || closed) return;
      const headers: Record<string, string> = {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-requestid": randomUUID(),
      };
      if (errorCode) headers["x-amzn-errortype"] = errorCode;
      res.writeHead(status, headers).end(JSON.stringify(payload));
    };
    const fail = (error: ApiError): void => {
      count(counters, operation, error.code);
      send(error.status, { __type: error.code, message: error.message }, error.code);
    };
    const caller = resolution.caller;
    if (!caller) return fail(credentialError("ecs", resolution.problem ?? "invalid"));
    if (!isEcsOperation(operation)) {
      fail(new ApiError("UnknownOperationException", 400, `Unknown operation ${target}`));
      return;
    }
    let input: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(body || "{}");
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      input = parsed as Record<string, unknown>;
    } catch {
      fail(new ApiError("SerializationException", 400, "Request body is not a JSON object."));
      return;
    }
    await sleep(faults.delay());
    const cluster = typeof input.cluster === "string" ? nameOf(input.cluster) : undefined;
    const rule = faults.match(operation, cluster, "ecs", fleet.account);
    if (rule?.kind === "timeout") {
      counters.timeout(operation);
      return; // never answered: the client times out, or close() drops the socket
    }
    const injected = rule ? ecsFault(rule, operation, input, fleet, caller) : undefined;
    if (injected) return fail(injected);
    if (!faults.admit(operation)) return fail(new ApiError("ThrottlingException", 400, "Rate exceeded"));
    try {
      send(200, handleEcs(fleet, operation, input));
    } catch (error) {
      fail(error instanceof ApiError ? error : new ApiError("ServerException", 500, String(error)));
    }
  }

  async function handleEc2Request(
    params: URLSearchParams,
    res: ServerResponse,
    resolution: Resolution,
    { fleet, counters, faults }: AccountFleet,
  ): Promise<void> {
    const action = params.get("Action") ?? "";
    const requestId = randomUUID();
    counters.call(action || "(missing Action)");
    const send = (status: number, xml: string): void => {
      if (res.destroyed || closed) return;
      res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" }).end(xml);
    };
    const fail = (error: ApiError): void => {
      count(counters, action, error.code);
      send(ec2Status(error.code), ec2ErrorXml(error.code, error.message, requestId));
    };
    if (!resolution.caller) return fail(credentialError("ec2", resolution.problem ?? "invalid"));
    if (!action)
      return fail(new ApiError("MissingAction", 400, "The request must contain the parameter Action"));
    if (!isEc2Action(action)) {
      return fail(
        new ApiError("InvalidAction", 400, `The action ${action} is not valid for this web service.`),
      );
    }
    await sleep(faults.delay());
    const rule = faults.match(action, undefined, "ec2", fleet.account);
    if (rule?.kind === "timeout") {
      counters.timeout(action);
      return;
    }
    if (rule) return fail(ec2Fault(rule));
    if (!faults.admit(action))
      return fail(new ApiError("RequestLimitExceeded", 503, "Request limit exceeded."));
    try {
      send(200, handleEc2(fleet, action, params, requestId));
    } catch (error) {
      fail(error instanceof ApiError ? error : new ApiError("InternalError", 500, String(error)));
    }
  }

  async function handleStsRequest(
    params: URLSearchParams,
    res: ServerResponse,
    resolution: Resolution,
  ): Promise<void> {
    const action = params.get("Action") ?? "";
    const requestId = randomUUID();
    const caller = resolution.caller;
    const roleArn = action === "AssumeRole" ? params.get("RoleArn") : null;
    const externalId = params.get("ExternalId");
    const call = sts.begin({
      operation: action || "(missing Action)",
      callerAccount: caller?.account,
      account: accountOfRole(roleArn) ?? resolution.account,
      ...(roleArn !== null ? { roleArn } : {}),
      ...(roleArn !== null && externalId !== null ? { externalId } : {}),
    });
    const send = (status: number, xml: string): void => {
      if (res.destroyed || closed) return;
      res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": requestId }).end(xml);
    };
    const fail = (error: ApiError): void => {
      sts.finish(call, error.code, THROTTLE_CODES.has(error.code) ? "throttle" : "error");
      send(error.status, stsErrorXml(error, requestId));
    };
    if (!caller) return fail(credentialError("sts", resolution.problem ?? "invalid"));
    if (!action)
      return fail(new ApiError("MissingAction", 400, "The request must contain the parameter Action"));
    if (!isStsAction(action)) {
      return fail(
        new ApiError("InvalidAction", 400, `Could not find operation ${action} for version 2011-06-15`),
      );
    }
    await sleep(sts.faults.delay());
    const rule = sts.faults.match(action, undefined, "sts", call.account);
    if (rule?.kind === "timeout") return sts.finish(call, "timeout", "timeout");
    if (rule) return fail(stsFault(rule.kind, rule.status, caller, roleArn));
    let xml: string;
    try {
      xml = sts.handle(action, params, caller, requestId);
    } catch (error) {
      return fail(error instanceof ApiError ? error : new ApiError("InternalFailure", 500, String(error)));
    }
    sts.finish(call, "ok", "ok");
    send(200, xml);
  }

  function count(counters: Counters, operation: string, code: string): void {
    if (THROTTLE_CODES.has(code)) counters.throttle(operation);
    else counters.error(operation);
  }

  function ecsFault(
    rule: FaultRule,
    operation: string,
    input: Record<string, unknown>,
    fleet: Fleet,
    caller: Caller,
  ): ApiError | undefined {
    switch (rule.kind) {
      case "throttle":
        return new ApiError("ThrottlingException", 400, "Rate exceeded");
      case "5xx":
        return new ApiError(
          "ServerException",
          rule.status ?? 500,
          "Service encountered an unexpected error.",
        );
      case "accessDenied": {
        const resource =
          typeof input.cluster === "string"
            ? `arn:aws:ecs:${fleet.region}:${fleet.account}:cluster/${nameOf(input.cluster)}`
            : "*";
        return new ApiError(
          "AccessDeniedException",
          400,
          `User: ${caller.arn} is not authorized to perform: ` +
            `ecs:${operation} on resource: ${resource} because no identity-based policy allows the ecs:${operation} action`,
        );
      }
      case "clusterNotFound":
        return new ApiError("ClusterNotFoundException", 400, "Cluster not found.");
      default:
        return undefined;
    }
  }

  function ec2Fault(rule: FaultRule): ApiError {
    switch (rule.kind) {
      case "throttle":
        return new ApiError("RequestLimitExceeded", 503, "Request limit exceeded.");
      case "accessDenied":
        return new ApiError(
          "UnauthorizedOperation",
          403,
          "You are not authorized to perform this operation.",
        );
      default:
        return rule.status === 503
          ? new ApiError("Unavailable", 503, "The service is unavailable. Please try again shortly.")
          : new ApiError("InternalError", rule.status ?? 500, "An internal error has occurred");
    }
  }

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;

  return {
    url,
    port,
    region: primary.region,
    account: primary.account,
    fleet: primary.fleet,
    counters: primary.counters,
    faults: primary.faults,
    addFleet: (fleetOptions) => fleets.add(fleetOptions),
    fleetOf: (account, region) => fleets.of(account, region),
    fleets: () => fleets.all(),
    addAccessKey: (accessKeyId, account) => principals.addAccessKey(accessKeyId, account),
    addRole: (role) => sts.addRole(role),
    sts,
    totalCounters: () =>
      sumSnapshots([...fleets.all().map((f) => f.counters.snapshot()), sts.counters.snapshot()]),
    env: () => ({
      AWS_ENDPOINT_URL_ECS: url,
      AWS_ENDPOINT_URL_EC2: url,
      AWS_ENDPOINT_URL_STS: url,
      AWS_REGION: primary.region,
      AWS_ACCESS_KEY_ID: "standin",
      AWS_SECRET_ACCESS_KEY: "standin",
    }),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const [timer, resolve] of timers) {
        clearTimeout(timer);
        resolve();
      }
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
