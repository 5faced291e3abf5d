import { ApiError } from "./errors.js";
import type { Fleet } from "./fleet.js";
import type { Ec2InstanceRecord, TaskRecord } from "./model.js";

/**
 * EC2 over the ec2 query protocol: a form-encoded POST (`Action=DescribeInstances&Version=2016-11-15&…`,
 * lists flattened as `InstanceId.1`, `Filter.1.Value.1`), answered with namespaced XML in which every
 * list member is an `<item>`. Two actions: DescribeInstances (the hosts behind container instances) and
 * DescribeNetworkInterfaces (the ENIs of awsvpc tasks, for their public addresses).
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

type Ec2Handler = (fleet: Fleet, params: URLSearchParams, requestId: string) => string;

const handlers: Record<string, Ec2Handler> = {
  DescribeInstances: describeInstances,
  DescribeNetworkInterfaces: describeNetworkInterfaces,
};

export function isEc2Action(action: string): boolean {
  return Object.hasOwn(handlers, action);
}

export function handleEc2(fleet: Fleet, action: string, params: URLSearchParams, requestId: string): string {
  const handler = handlers[action];
  if (!handler) {
    throw new ApiError("InvalidAction", 400, `The action ${action} is not valid for this web service.`);
  }
  return handler(fleet, params, requestId);
}

/** EC2's HTTP status for an error code (the SDK reads the code from the body, retries from the status). */
export function ec2Status(code: string): number {
  if (code === "RequestLimitExceeded" || code === "Unavailable") return 503;
  if (code === "InternalError") return 500;
  if (code === "UnauthorizedOperation") return 403;
  if (code === "AuthFailure") return 401;
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

/** Filter names an action supports; `tag:*` stands for every `tag:KEY` filter. */
function parseFilters(params: URLSearchParams, supported: ReadonlySet<string>): Filter[] {
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
    const known = supported.has(f.name) || (supported.has("tag:*") && /^tag:.+/.test(f.name));
    if (!known) throw new ApiError("InvalidParameterValue", 400, `The filter '${f.name}' is invalid`);
  }
  return filters;
}

/** Every filter must match (AND); a filter matches when one of the resource's values is among its values. */
function matchesAll(filters: readonly Filter[], valuesOf: (name: string) => readonly string[]): boolean {
  for (const f of filters) {
    if (!valuesOf(f.name).some((v) => f.values.has(v))) return false;
  }
  return true;
}

const INSTANCE_FILTERS: ReadonlySet<string> = new Set([
  "instance-id",
  "instance-state-name",
  "instance-type",
  "private-ip-address",
  "ip-address",
  "availability-zone",
  "subnet-id",
  "vpc-id",
  "tag-key",
  "tag:*",
]);

function instanceValues(instance: Ec2InstanceRecord, name: string): readonly string[] {
  const alive = instance.state !== "terminated";
  const opt = (v: string | undefined): string[] => (v === undefined ? [] : [v]);
  switch (name) {
    case "instance-id":
      return [instance.instanceId];
    case "instance-state-name":
      return [instance.state];
    case "instance-type":
      return [instance.instanceType];
    case "private-ip-address":
      return alive ? [instance.privateIp] : [];
    case "ip-address":
      return alive ? opt(instance.publicIp) : [];
    case "availability-zone":
      return [instance.availabilityZone];
    case "subnet-id":
      return alive ? [instance.subnetId] : [];
    case "vpc-id":
      return alive ? [instance.vpcId] : [];
    case "tag-key":
      return Object.keys(instance.tags);
    default:
      return opt(instance.tags[name.slice("tag:".length)]);
  }
}

/** EC2 MaxResults: 5..1000, and never together with an explicit id list. */
function parseMaxResults(params: URLSearchParams, idCount: number, idsParameter: string): number | undefined {
  const rawMax = params.get("MaxResults");
  if (rawMax === null) return undefined;
  // AWS refuses to page an explicit id list.
  if (idCount > 0) {
    throw new ApiError(
      "InvalidParameterCombination",
      400,
      `The parameter ${idsParameter} cannot be used with the parameter maxResults`,
    );
  }
  const maxResults = Number(rawMax);
  if (!Number.isInteger(maxResults) || maxResults < 5 || maxResults > 1000) {
    throw new ApiError(
      "InvalidParameterValue",
      400,
      `Value ( ${rawMax} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
    );
  }
  return maxResults;
}

/** `Name.1`, `Name.2`, … in order, without duplicates. */
function listParam(params: URLSearchParams, name: string): string[] {
  const pattern = new RegExp(`^${name}\\.\\d+$`);
  const out: string[] = [];
  for (const [key, value] of params) if (pattern.test(key) && !out.includes(value)) out.push(value);
  return out;
}

function describeInstances(fleet: Fleet, params: URLSearchParams, requestId: string): string {
  const ids = listParam(params, "InstanceId");
  const filters = parseFilters(params, INSTANCE_FILTERS);

  const maxResults = parseMaxResults(params, ids.length, "instancesSet");

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
    if (fleet.instances.get(inst.instanceId) !== inst) continue;
    if (!matchesAll(filters, (name) => instanceValues(inst, name))) continue;
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
    body += `<groupSet/><instancesSet>${instances.map((i) => instanceXml(fleet, i)).join("")}</instancesSet></item>`;
  }
  const nextToken =
    next !== undefined ? `<nextToken>${Buffer.from(`ec2:${next}`).toString("base64")}</nextToken>` : "";
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="${EC2_XMLNS}">` +
    `<requestId>${requestId}</requestId><reservationSet>${body}</reservationSet>${nextToken}</DescribeInstancesResponse>`
  );
}

function instanceXml(fleet: Fleet, i: Ec2InstanceRecord): string {
  const alive = i.state !== "terminated";
  // A terminated instance loses its addresses (private and public) and network placement.
  const publicIp = alive ? i.publicIp : undefined;
  return (
    `<item><instanceId>${i.instanceId}</instanceId><imageId>${i.imageId}</imageId>` +
    `<instanceState><code>${STATE_CODES[i.state]}</code><name>${i.state}</name></instanceState>` +
    `<privateDnsName>${alive ? xml(i.privateDnsName) : ""}</privateDnsName>` +
    (publicIp !== undefined ? `<dnsName>${xml(fleet.publicDnsName(publicIp))}</dnsName>` : "<dnsName/>") +
    `<amiLaunchIndex>0</amiLaunchIndex><instanceType>${xml(i.instanceType)}</instanceType>` +
    `<launchTime>${new Date(i.launchTime).toISOString()}</launchTime>` +
    `<placement><availabilityZone>${xml(i.availabilityZone)}</availabilityZone><groupName/><tenancy>default</tenancy></placement>` +
    `<monitoring><state>disabled</state></monitoring>` +
    (alive
      ? `<subnetId>${i.subnetId}</subnetId><vpcId>${i.vpcId}</vpcId><privateIpAddress>${xml(i.privateIp)}</privateIpAddress>`
      : "") +
    (publicIp !== undefined ? `<ipAddress>${xml(publicIp)}</ipAddress>` : "") +
    `<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>` +
    // EC2 leaves tagSet out for an instance without tags.
    tagSetXml(i.tags, false) +
    `</item>`
  );
}

function tagSetXml(tags: Record<string, string>, emptyElement: boolean): string {
  const entries = Object.entries(tags);
  if (entries.length === 0) return emptyElement ? "<tagSet/>" : "";
  return `<tagSet>${entries.map(([k, v]) => `<item><key>${xml(k)}</key><value>${xml(v)}</value></item>`).join("")}</tagSet>`;
}

// ---- network interfaces ---------------------------------------------------------------------------

const ENI_FILTERS: ReadonlySet<string> = new Set([
  "network-interface-id",
  "subnet-id",
  "vpc-id",
  "availability-zone",
  "private-ip-address",
  "addresses.private-ip-address",
  "association.public-ip",
  "status",
  "interface-type",
  "attachment.instance-id",
  "description",
]);

function eniDescription(fleet: Fleet, task: TaskRecord): string {
  return `arn:aws:ecs:${fleet.region}:${fleet.account}:attachment/${task.eni?.attachmentId ?? ""}`;
}

function eniValues(fleet: Fleet, task: TaskRecord, name: string): readonly string[] {
  const eni = task.eni;
  if (!eni) return [];
  switch (name) {
    case "network-interface-id":
      return [eni.eniId];
    case "subnet-id":
      return [eni.subnetId];
    case "vpc-id":
      return [eni.vpcId];
    case "availability-zone":
      return [eni.availabilityZone];
    case "private-ip-address":
    case "addresses.private-ip-address":
      return [eni.privateIp];
    case "association.public-ip":
      return eni.publicIp === undefined ? [] : [eni.publicIp];
    case "status":
      return ["in-use"];
    case "interface-type":
      return ["interface"];
    case "attachment.instance-id":
      return task.host && !task.host.external ? [task.host.ec2InstanceId] : [];
    default:
      return [eniDescription(fleet, task)];
  }
}

/**
 * DescribeNetworkInterfaces over the ENIs of awsvpc tasks that are not STOPPED. `NetworkInterfaceId.N`
 * naming an ENI that does not exist fails the call (InvalidNetworkInterfaceID.NotFound); a
 * `network-interface-id` filter just returns fewer. MaxResults (5..1000) pages, never with explicit ids.
 */
function describeNetworkInterfaces(fleet: Fleet, params: URLSearchParams, requestId: string): string {
  const ids = listParam(params, "NetworkInterfaceId");
  const filters = parseFilters(params, ENI_FILTERS);
  const maxResults = parseMaxResults(params, ids.length, "NetworkInterfaceIds");

  let candidates: readonly TaskRecord[];
  if (ids.length > 0) {
    const malformed = ids.find((id) => !/^eni-[0-9a-f]{8}(?:[0-9a-f]{9})?$/.test(id));
    if (malformed !== undefined) {
      throw new ApiError(
        "InvalidNetworkInterfaceId.Malformed",
        400,
        `Invalid id: "${malformed}" (expecting "eni-...")`,
      );
    }
    const missing = ids.filter((id) => fleet.findNetworkInterface(id) === undefined);
    if (missing.length === 1) {
      throw new ApiError(
        "InvalidNetworkInterfaceID.NotFound",
        400,
        `The networkInterface ID '${missing[0]}' does not exist`,
      );
    }
    if (missing.length > 1) {
      throw new ApiError(
        "InvalidNetworkInterfaceID.NotFound",
        400,
        `The networkInterface IDs '${missing.join(", ")}' do not exist`,
      );
    }
    candidates = ids.map((id) => fleet.findNetworkInterface(id) as TaskRecord);
  } else {
    const idFilter = filters.find((f) => f.name === "network-interface-id");
    candidates = idFilter
      ? [...idFilter.values]
          .map((id) => fleet.findNetworkInterface(id))
          .filter((t): t is TaskRecord => t !== undefined)
          .sort((a, b) => a.seq - b.seq)
      : fleet.eniLog;
  }

  const start = decodeEc2Token(params.get("NextToken"), "eni");
  const limit = maxResults ?? Number.POSITIVE_INFINITY;
  const selected: TaskRecord[] = [];
  let next: number | undefined;
  for (let i = start; i < candidates.length; i++) {
    const task = candidates[i] as TaskRecord;
    if (!task.eni || fleet.findNetworkInterface(task.eni.eniId) !== task) continue;
    if (!matchesAll(filters, (name) => eniValues(fleet, task, name))) continue;
    if (selected.length >= limit) {
      next = i;
      break;
    }
    selected.push(task);
  }
  const nextToken =
    next !== undefined ? `<nextToken>${Buffer.from(`eni:${next}`).toString("base64")}</nextToken>` : "";
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeNetworkInterfacesResponse xmlns="${EC2_XMLNS}">` +
    `<requestId>${requestId}</requestId><networkInterfaceSet>${selected.map((t) => eniXml(fleet, t)).join("")}` +
    `</networkInterfaceSet>${nextToken}</DescribeNetworkInterfacesResponse>`
  );
}

function eniXml(fleet: Fleet, task: TaskRecord): string {
  const eni = task.eni;
  if (!eni) return "";
  const ec2Host = task.host && !task.host.external ? task.host : undefined;
  // An auto-assigned public IPv4 address belongs to Amazon, hence ipOwnerId "amazon".
  const association =
    eni.publicIp !== undefined
      ? `<association><publicIp>${xml(eni.publicIp)}</publicIp>` +
        `<publicDnsName>${xml(fleet.publicDnsName(eni.publicIp))}</publicDnsName><ipOwnerId>amazon</ipOwnerId></association>`
      : "";
  return (
    `<item><networkInterfaceId>${eni.eniId}</networkInterfaceId><subnetId>${eni.subnetId}</subnetId>` +
    `<vpcId>${eni.vpcId}</vpcId><availabilityZone>${xml(eni.availabilityZone)}</availabilityZone>` +
    `<description>${xml(eniDescription(fleet, task))}</description><ownerId>${xml(fleet.account)}</ownerId>` +
    `<requesterManaged>true</requesterManaged><status>in-use</status><macAddress>${eni.macAddress}</macAddress>` +
    `<privateIpAddress>${xml(eni.privateIp)}</privateIpAddress><privateDnsName>${xml(eni.privateDnsName)}</privateDnsName>` +
    `<sourceDestCheck>true</sourceDestCheck>` +
    `<groupSet><item><groupId>sg-${eni.vpcId.slice("vpc-".length)}</groupId><groupName>default</groupName></item></groupSet>` +
    `<attachment><attachmentId>eni-attach-${eni.eniId.slice("eni-".length)}</attachmentId>` +
    (ec2Host
      ? `<instanceId>${ec2Host.ec2InstanceId}</instanceId><instanceOwnerId>${xml(fleet.account)}</instanceOwnerId>`
      : "") +
    `<deviceIndex>1</deviceIndex><status>attached</status><attachTime>${new Date(eni.attachedAt).toISOString()}</attachTime>` +
    `<deleteOnTermination>false</deleteOnTermination></attachment>` +
    association +
    tagSetXml({}, true) +
    `<privateIpAddressesSet><item><privateIpAddress>${xml(eni.privateIp)}</privateIpAddress>` +
    `<privateDnsName>${xml(eni.privateDnsName)}</privateDnsName><primary>true</primary>${association}</item></privateIpAddressesSet>` +
    `<ipv6AddressesSet/><interfaceType>interface</interfaceType></item>`
  );
}

/** Page tokens are opaque: base64 of `KIND:POSITION`; anything else is AWS's invalid-token error. */
function decodeEc2Token(token: string | null, kind: string): number {
  if (token === null) return 0;
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const start = decoded.startsWith(`${kind}:`) ? Number(decoded.slice(kind.length + 1)) : Number.NaN;
  if (!Number.isInteger(start) || start < 0)
    throw new ApiError("InvalidParameterValue", 400, "Invalid NextToken");
  return start;
}

function xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
