import { type Caller, type IssuedCredentials, type Principals, uniqueId } from "./accounts.js";
import { Counters } from "./counters.js";
import { ApiError } from "./errors.js";
import { Faults } from "./faults.js";

/**
 * STS over the AWS query protocol, on the stand-in's port: a form-encoded POST
 * (`Action=AssumeRole&Version=2011-06-15&RoleArn=…&RoleSessionName=…&ExternalId=…&DurationSeconds=…`),
 * answered with `<AssumeRoleResponse><AssumeRoleResult>…</AssumeRoleResult><ResponseMetadata>…` XML, and
 * errors as `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
 * Two actions: AssumeRole (temporary `ASIA…` credentials of a role added with `addRole`) and
 * GetCallerIdentity.
 */
export const STS_VERSION = "2011-06-15";
export const STS_XMLNS = `https://sts.amazonaws.com/doc/${STS_VERSION}/`;

const STS_ACTIONS: ReadonlySet<string> = new Set(["AssumeRole", "GetCallerIdentity"]);

// AWS's limits: sessions of 15 minutes to 12 hours, 1 hour unless the role allows more, and at most
// 1 hour for role chaining (temporary credentials assuming a role).
const MIN_DURATION = 900;
const MAX_DURATION = 43_200;
const DEFAULT_DURATION = 3600;
const CHAINED_MAX_DURATION = 3600;

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/** The read-only role the discovery function assumes in each account (the spoke stack's default). */
export const READER_ROLE_NAME = "prometheus-ecs-discovery-reader";

/** `arn:aws:iam::ACCOUNT:role/prometheus-ecs-discovery-reader`, or another role name. */
export function readerRoleArn(account: string, roleName: string = READER_ROLE_NAME): string {
  return `arn:aws:iam::${account}:role/${roleName}`;
}

/** A form request is STS's when signed for `sts`, when its Version is STS's, or (no Version) by its Action. */
export function isStsRequest(params: URLSearchParams, signedService: string | undefined): boolean {
  if (signedService === "sts") return true;
  const version = params.get("Version");
  if (version !== null) return version === STS_VERSION;
  return STS_ACTIONS.has(params.get("Action") ?? "");
}

export function isStsAction(action: string): boolean {
  return STS_ACTIONS.has(action);
}

/** The account of `arn:aws:iam::ACCOUNT:role/…`, when it is a role ARN. */
export function accountOfRole(roleArn: string | null | undefined): string | undefined {
  return ROLE_ARN.exec(roleArn ?? "")?.[1];
}

export interface RoleOptions {
  /** `arn:aws:iam::ACCOUNT:role/NAME` (a path is allowed); credentials of the role belong to ACCOUNT. */
  arn: string;
  /** When set, AssumeRole must pass exactly this ExternalId (the `sts:ExternalId` trust condition). */
  externalId?: string;
  /** The trust policy: may a caller of this account assume the role? Default: every account may. */
  trusts?: (callerAccount: string) => boolean;
  /** The role's MaxSessionDuration: DurationSeconds above it is a ValidationError. Default 3600. */
  maxSessionDurationSeconds?: number;
}

/** One STS request, as the stand-in saw it. */
export interface StsCall {
  operation: string;
  /** The account of the credentials that signed it (undefined when they were expired or unknown). */
  callerAccount: string | undefined;
  /** The account it is about: the role's for AssumeRole, the caller's for GetCallerIdentity. */
  account: string;
  roleArn?: string;
  externalId?: string;
  /** `ok`, the error code it was answered with, `timeout` when held without an answer, `pending` until then. */
  outcome: string;
}

export class Sts {
  /** Every STS call by operation. */
  readonly counters = new Counters();
  /**
   * Faults of STS calls: `throttle` (Throttling), `5xx`, `timeout`, `accessDenied`; `account` limits a rule
   * to calls about one account (AssumeRole of that account's role). No token bucket: inject throttles.
   */
  readonly faults = new Faults();
  /** When set, every credential issued lives exactly this long (seconds), whatever DurationSeconds says. */
  lifetimeSeconds: number | undefined;
  /** When set, no credential issued lives longer than this (seconds). */
  maxLifetimeSeconds: number | undefined;

  private readonly roles = new Map<string, RoleOptions>();
  private readonly byAccount = new Map<string, Counters>();
  private readonly log: StsCall[] = [];

  constructor(private readonly principals: Principals) {}

  /** Adds (or replaces) a role; returns its ARN. */
  addRole(role: RoleOptions): string {
    if (!ROLE_ARN.test(role.arn)) throw new Error(`not an IAM role ARN: ${role.arn}`);
    if (role.externalId !== undefined && !EXTERNAL_ID.test(role.externalId)) {
      throw new Error(`invalid external id ${JSON.stringify(role.externalId)}: 2 to 1224 of [\\w+=,.@:/-]`);
    }
    this.roles.set(role.arn, { ...role });
    return role.arn;
  }

  removeRole(arn: string): boolean {
    return this.roles.delete(arn);
  }

  /** STS calls about one account (see `StsCall.account`), by operation. */
  countersOf(account: string): Counters {
    let counters = this.byAccount.get(account);
    if (!counters) {
      counters = new Counters();
      this.byAccount.set(account, counters);
    }
    return counters;
  }

  /** Every STS call so far, oldest first. */
  calls(): StsCall[] {
    return [...this.log];
  }

  /** Every credential issued so far (with its current expiration). */
  issued(): IssuedCredentials[] {
    return this.principals.issued();
  }

  /** Expires issued credentials now: one access key id, or all of them. */
  expire(accessKeyId?: string): void {
    this.principals.expire(accessKeyId);
  }

  /** Clears counters and the call log (roles, credentials and faults stay). */
  reset(): void {
    this.counters.reset();
    for (const counters of this.byAccount.values()) counters.reset();
    this.log.length = 0;
  }

  /** @internal Counts a call (overall and for its account) and logs it; `finish` gives its outcome. */
  begin(call: Omit<StsCall, "outcome">): StsCall {
    const entry: StsCall = { ...call, outcome: "pending" };
    this.log.push(entry);
    this.counters.call(call.operation);
    this.countersOf(call.account).call(call.operation);
    return entry;
  }

  /** @internal */
  finish(call: StsCall, outcome: string, kind: "ok" | "throttle" | "error" | "timeout"): void {
    call.outcome = outcome;
    for (const counters of [this.counters, this.countersOf(call.account)]) {
      if (kind === "throttle") counters.throttle(call.operation);
      else if (kind === "error") counters.error(call.operation);
      else if (kind === "timeout") counters.timeout(call.operation);
    }
  }

  /** @internal Answers an STS action (already known to be one) for an authenticated caller. */
  handle(action: string, params: URLSearchParams, caller: Caller, requestId: string): string {
    if (action === "GetCallerIdentity") {
      return response(
        "GetCallerIdentity",
        `<Arn>${xml(caller.arn)}</Arn><UserId>${xml(caller.userId)}</UserId><Account>${caller.account}</Account>`,
        requestId,
      );
    }
    return this.assumeRole(params, caller, requestId);
  }

  private assumeRole(params: URLSearchParams, caller: Caller, requestId: string): string {
    const roleArn = params.get("RoleArn");
    const sessionName = params.get("RoleSessionName");
    const externalId = params.get("ExternalId") ?? undefined;
    const rawDuration = params.get("DurationSeconds");
    if (roleArn === null)
      throw validation("Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
    if (roleArn.length < 20) {
      throw validation(
        `Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20`,
      );
    }
    if (sessionName === null) {
      throw validation(
        "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
      );
    }
    if (!SESSION_NAME.test(sessionName)) {
      throw validation(
        `Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    }
    if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) {
      throw validation(
        `Value '${externalId}' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*`,
      );
    }
    const duration = rawDuration === null ? DEFAULT_DURATION : Number(rawDuration);
    if (!Number.isInteger(duration))
      throw validation(`Value '${rawDuration}' at 'durationSeconds' is not a number`);
    if (duration < MIN_DURATION || duration > MAX_DURATION) {
      const bound =
        duration < MIN_DURATION
          ? `greater than or equal to ${MIN_DURATION}`
          : `less than or equal to ${MAX_DURATION}`;
      throw validation(
        `Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value ${bound}`,
      );
    }

    // Unknown role, untrusted caller and wrong external id all look the same to the caller, as in AWS.
    const role = this.roles.get(roleArn);
    const trusted = role !== undefined && (role.trusts?.(caller.account) ?? true);
    if (!role || !trusted || (role.externalId !== undefined && externalId !== role.externalId)) {
      throw accessDenied(caller, roleArn);
    }
    if (caller.session && duration > CHAINED_MAX_DURATION) {
      throw new ApiError(
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
      );
    }
    if (duration > (role.maxSessionDurationSeconds ?? DEFAULT_DURATION)) {
      throw new ApiError(
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
      );
    }

    let lifetime = this.lifetimeSeconds ?? duration;
    if (this.maxLifetimeSeconds !== undefined) lifetime = Math.min(lifetime, this.maxLifetimeSeconds);
    // AWS gives whole seconds; rounding up keeps a short test lifetime from ending early.
    const expiration = new Date(Math.ceil((Date.now() + lifetime * 1000) / 1000) * 1000);
    const match = ROLE_ARN.exec(roleArn) as RegExpExecArray;
    const account = match[1] as string;
    const roleName = match[2] as string;
    const assumedRoleId = `AROA${uniqueId(roleArn)}:${sessionName}`;
    const arn = `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`;
    const issued = this.principals.issue({
      expiration,
      account,
      roleArn,
      sessionName,
      ...(externalId !== undefined ? { externalId } : {}),
      assumedRoleId,
      arn,
      callerAccount: caller.account,
    });
    return response(
      "AssumeRole",
      `<AssumedRoleUser><AssumedRoleId>${xml(assumedRoleId)}</AssumedRoleId><Arn>${xml(arn)}</Arn></AssumedRoleUser>` +
        `<Credentials><AccessKeyId>${issued.accessKeyId}</AccessKeyId>` +
        `<SecretAccessKey>${xml(issued.secretAccessKey)}</SecretAccessKey>` +
        `<SessionToken>${xml(issued.sessionToken)}</SessionToken>` +
        `<Expiration>${isoSeconds(expiration)}</Expiration></Credentials>`,
      requestId,
    );
  }
}

/** The error an STS fault rule injects. */
export function stsFault(
  kind: string,
  status: number | undefined,
  caller: Caller | undefined,
  roleArn: string | null,
): ApiError {
  switch (kind) {
    case "throttle":
      return new ApiError("Throttling", 400, "Rate exceeded");
    case "accessDenied":
      return caller && roleArn !== null
        ? accessDenied(caller, roleArn)
        : new ApiError("AccessDenied", 403, "User is not authorized to perform this action");
    default:
      return status === 503
        ? new ApiError("ServiceUnavailable", 503, "Service is unavailable")
        : new ApiError("InternalFailure", status ?? 500, "An internal error occurred");
  }
}

function accessDenied(caller: Caller, roleArn: string): ApiError {
  return new ApiError(
    "AccessDenied",
    403,
    `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
  );
}

function validation(detail: string): ApiError {
  return new ApiError("ValidationError", 400, `1 validation error detected: ${detail}`);
}

function response(action: string, result: string, requestId: string): string {
  return (
    `<${action}Response xmlns="${STS_XMLNS}">\n  <${action}Result>${result}</${action}Result>\n` +
    `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</${action}Response>\n`
  );
}

export function stsErrorXml(error: ApiError, requestId: string): string {
  const type = error.status >= 500 ? "Receiver" : "Sender";
  return (
    `<ErrorResponse xmlns="${STS_XMLNS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${xml(error.code)}</Code>\n` +
    `    <Message>${xml(error.message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`
  );
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
