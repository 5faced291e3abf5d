import { ApiError } from "./errors.js";
import type { Fleet } from "./fleet.js";
import type { Ec2InstanceRecord } from "./model.js";

/**
 * EC2 over the ec2 query protocol: a form-encoded POST (`Action=DescribeInstances&Version=2016-11-15&…`,
 * lists flattened as `InstanceId.1`, `Filter.1.Value.1`), answered with namespaced XML in which every
 * list member is an `<item>`.
 */
export const EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/";

const STATE_CODES: Record<Ec2InstanceRecord["state"], number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

const SUPPORTED_FILTERS = new Set([
  "instance-id",
  "instance-state-name",
  "private-ip-address",
  "availability-zone",
]);

export function isEc2Action(action: string): boolean {
  return action === "DescribeInstances";
}

export function handleEc2(fleet: Fleet, action: string, params: URLSearchParams, requestId: string): string {
  if (action !== "DescribeInstances") {
    throw new ApiError("InvalidAction", 400, `The action ${action} is not valid for this web service.`);
  }
  return describeInstances(fleet, params, requestId);
}

/** EC2's HTTP status for an error code (the SDK reads the code from the body, retries from the status). */
export function ec2Status(code: string): number {
  if (code === "RequestLimitExceeded" || code === "Unavailable") return 503;
  if (code === "InternalError") return 500;
  if (code === "UnauthorizedOperation") return 403;
  return 400;
}

export function ec2ErrorXml(code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xml(code)}</Code>` +
    `<Message>${xml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
  );
}

interface Filter {
  name: string;
  values: Set<string>;
}

function parseFilters(params: URLSearchParams): Filter[] {
  const byIndex = new Map<string, Filter>();
  for (const [key, value] of params) {
    const name = /^Filter\.(\d+)\.Name$/.exec(key);
    if (name?.[1]) {
      const f = byIndex.get(name[1]) ?? { name: "", values: new Set<string>() };
      f.name = value;
      byIndex.set(name[1], f);
      continue;
    }
    const val = /^Filter\.(\d+)\.Value\.\d+$/.exec(key);
    if (val?.[1]) {
      const f = byIndex.get(val[1]) ?? { name: "", values: new Set<string>() };
      f.values.add(value);
      byIndex.set(val[1], f);
    }
  }
  const filters = [...byIndex.values()];
  for (const f of filters) {
    if (!SUPPORTED_FILTERS.has(f.name))
      throw new ApiError("InvalidParameterValue", 400, `The filter '${f.name}' is invalid`);
  }
  return filters;
}

function matches(instance: Ec2InstanceRecord, filters: readonly Filter[]): boolean {
  for (const f of filters) {
    const value =
      f.name === "instance-id"
        ? instance.instanceId
        : f.name === "instance-state-name"
          ? instance.state
          : f.name === "private-ip-address"
            ? instance.privateIp
            : instance.availabilityZone;
    if (!f.values.has(value)) return false;
  }
  return true;
}

function describeInstances(fleet: Fleet, params: URLSearchParams, requestId: string): string {
  const ids: string[] = [];
  for (const [key, value] of params)
    if (/^InstanceId\.\d+$/.test(key) && !ids.includes(value)) ids.push(value);
  const filters = parseFilters(params);

  const rawMax = params.get("MaxResults");
  let maxResults: number | undefined;
  if (rawMax !== null) {
    // AWS refuses to page an explicit id list.
    if (ids.length > 0) {
      throw new ApiError(
        "InvalidParameterCombination",
        400,
        "The parameter instancesSet cannot be used with the parameter maxResults",
      );
    }
    maxResults = Number(rawMax);
    if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000) {
      throw new ApiError(
        "InvalidParameterValue",
        400,
        `Value ( ${rawMax} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
      );
    }
  }

  let candidates: Ec2InstanceRecord[];
  if (ids.length > 0) {
    const malformed = ids.find((id) => !/^i-[0-9a-f]{8,17}$/.test(id));
    if (malformed !== undefined)
      throw new ApiError("InvalidInstanceID.Malformed", 400, `Invalid id: "${malformed}"`);
    // Unlike an instance-id filter, naming an unknown id fails the whole call.
    const missing = ids.filter((id) => !fleet.instances.has(id));
    if (missing.length === 1) {
      throw new ApiError("InvalidInstanceID.NotFound", 400, `The instance ID '${missing[0]}' does not exist`);
    }
    if (missing.length > 1) {
      throw new ApiError(
        "InvalidInstanceID.NotFound",
        400,
        `The instance IDs '${missing.join(", ")}' do not exist`,
      );
    }
    candidates = ids.map((id) => fleet.instances.get(id) as Ec2InstanceRecord);
  } else {
    const idFilter = filters.find((f) => f.name === "instance-id");
    if (idFilter) {
      // Indexed lookup: a filter naming 100 ids must not scan 5,000 instances.
      candidates = [...idFilter.values]
        .map((id) => fleet.instances.get(id))
        .filter((i): i is Ec2InstanceRecord => i !== undefined)
        .sort((a, b) => a.seq - b.seq);
    } else {
      candidates = fleet.instanceLog;
    }
  }

  const token = params.get("NextToken");
  let start = 0;
  if (token !== null) {
    start = Number(Buffer.from(token, "base64").toString("utf8").replace(/^ec2:/, ""));
    if (!Number.isInteger(start) || start < 0)
      throw new ApiError("InvalidParameterValue", 400, "Invalid NextToken");
  }
  const limit = maxResults ?? Number.POSITIVE_INFINITY;
  const selected: Ec2InstanceRecord[] = [];
  let i = start;
  let next: number | undefined;
  for (; i < candidates.length; i++) {
    const inst = candidates[i] as Ec2InstanceRecord;
    if (fleet.instances.get(inst.instanceId) !== inst || !matches(inst, filters)) continue;
    if (selected.length >= limit) {
      next = i;
      break;
    }
    selected.push(inst);
  }

  // One reservation per launch request; AWS pages by whole reservations.
  const reservations = new Map<string, Ec2InstanceRecord[]>();
  for (const inst of selected) {
    const list = reservations.get(inst.reservationId) ?? [];
    list.push(inst);
    reservations.set(inst.reservationId, list);
  }
  let body = "";
  for (const [reservationId, instances] of reservations) {
    body += `<item><reservationId>${reservationId}</reservationId><ownerId>${xml(instances[0]?.ownerId ?? "")}</ownerId>`;
    body += `<groupSet/><instancesSet>${instances.map(instanceXml).join("")}</instancesSet></item>`;
  }
  const nextToken =
    next !== undefined ? `<nextToken>${Buffer.from(`ec2:${next}`).toString("base64")}</nextToken>` : "";
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="${EC2_XMLNS}">` +
    `<requestId>${requestId}</requestId><reservationSet>${body}</reservationSet>${nextToken}</DescribeInstancesResponse>`
  );
}

function instanceXml(i: Ec2InstanceRecord): string {
  const alive = i.state !== "terminated";
  return (
    `<item><instanceId>${i.instanceId}</instanceId><imageId>${i.imageId}</imageId>` +
    `<instanceState><code>${STATE_CODES[i.state]}</code><name>${i.state}</name></instanceState>` +
    // A terminated instance loses its private address and network placement.
    `<privateDnsName>${alive ? xml(i.privateDnsName) : ""}</privateDnsName><dnsName/>` +
    `<amiLaunchIndex>0</amiLaunchIndex><instanceType>${xml(i.instanceType)}</instanceType>` +
    `<launchTime>${new Date(i.launchTime).toISOString()}</launchTime>` +
    `<placement><availabilityZone>${xml(i.availabilityZone)}</availabilityZone><groupName/><tenancy>default</tenancy></placement>` +
    `<monitoring><state>disabled</state></monitoring>` +
    (alive
      ? `<subnetId>${i.subnetId}</subnetId><vpcId>${i.vpcId}</vpcId><privateIpAddress>${xml(i.privateIp)}</privateIpAddress>`
      : "") +
    `<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType></item>`
  );
}

function xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
