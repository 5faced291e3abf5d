import { createHash, randomBytes } from "node:crypto";
import { Counters } from "./counters.js";
import { Faults } from "./faults.js";
import { Fleet } from "./fleet.js";
import type { FleetOptions } from "./model.js";

/**
 * Accounts and regions: one fleet per (account, region), each with its own counters and faults (so its
 * own throttling token buckets, as ECS and EC2 throttle per account and region), and the credentials that
 * say which account a request belongs to.
 */
export interface AccountFleet {
  readonly account: string;
  readonly region: string;
  readonly fleet: Fleet;
  readonly counters: Counters;
  readonly faults: Faults;
  /** True while the fleet is the empty one created for a request to an (account, region) never added. */
  readonly onDemand: boolean;
}

export interface AddFleetOptions extends FleetOptions {
  account: string;
  region: string;
}

interface MutableAccountFleet {
  account: string;
  region: string;
  fleet: Fleet;
  counters: Counters;
  faults: Faults;
  onDemand: boolean;
}

const key = (account: string, region: string): string => `${account}/${region}`;

export class Fleets {
  private readonly byKey = new Map<string, MutableAccountFleet>();
  readonly primary: AccountFleet;

  constructor(private readonly defaults: FleetOptions) {
    this.primary = this.add(defaults);
  }

  /**
   * Adds the fleet of an (account, region). Adding one that a request already created on demand (empty)
   * replaces its fleet and keeps its counters and faults; adding one twice is an error.
   */
  add(options: FleetOptions): AccountFleet {
    const fleet = new Fleet({ ...(this.defaults.clock ? { clock: this.defaults.clock } : {}), ...options });
    const k = key(fleet.account, fleet.region);
    const existing = this.byKey.get(k);
    if (existing && !existing.onDemand) {
      throw new Error(`the stand-in already has a fleet for account ${fleet.account} in ${fleet.region}`);
    }
    if (existing) {
      existing.fleet = fleet;
      existing.onDemand = false;
      return existing;
    }
    const entry: MutableAccountFleet = {
      account: fleet.account,
      region: fleet.region,
      fleet,
      counters: new Counters(),
      // Buckets refill on the real clock even when the fleet has a fake one for its timestamps.
      faults: new Faults(),
      onDemand: false,
    };
    this.byKey.set(k, entry);
    return entry;
  }

  of(account: string, region: string): AccountFleet | undefined {
    return this.byKey.get(key(account, region));
  }

  /** The fleet a request goes to; an (account, region) without one gets an empty fleet, kept from then on. */
  route(account: string, region: string): AccountFleet {
    const existing = this.byKey.get(key(account, region));
    if (existing) return existing;
    const entry = this.add({ account, region, seed: this.defaults.seed ?? 1 }) as MutableAccountFleet;
    entry.onDemand = true;
    return entry;
  }

  all(): AccountFleet[] {
    return [...this.byKey.values()];
  }
}

// ---- credentials ----------------------------------------------------------------------------------

/** What the `Authorization` header of a SigV4-signed request says. */
export interface SigV4Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecs/aws4_request, SignedHeaders=…, Signature=…`. */
export function parseSigV4(authorization: string | undefined): SigV4Scope | undefined {
  if (authorization === undefined) return undefined;
  const m = /Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(authorization);
  if (!m) return undefined;
  return { accessKeyId: m[1] ?? "", date: m[2] ?? "", region: m[3] ?? "", service: m[4] ?? "" };
}

/** Temporary credentials issued by AssumeRole. */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  /** The role's account: requests signed with these credentials go to its fleets. */
  account: string;
  roleArn: string;
  sessionName: string;
  externalId?: string;
  /** `AROA…:SESSION`. */
  assumedRoleId: string;
  /** `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`. */
  arn: string;
  /** The account of the credentials that called AssumeRole. */
  callerAccount: string;
}

/** Who signed a request. */
export interface Caller {
  account: string;
  accessKeyId: string;
  /** The principal: `arn:aws:iam::ACCOUNT:user/standin` for long-term keys, the assumed role's session otherwise. */
  arn: string;
  userId: string;
  /** Set for temporary credentials. */
  session?: IssuedCredentials;
}

/** Who signed a request, or why its credentials are refused. */
export interface Resolution {
  /** The account the request goes to: the caller's; when refused, the session's or the default one. */
  account: string;
  caller?: Caller;
  problem?: "expired" | "invalid";
}

/** Access keys and the accounts they belong to. */
export class Principals {
  private readonly accessKeys = new Map<string, string>();
  private readonly sessions = new Map<string, IssuedCredentials>();

  constructor(readonly defaultAccount: string) {}

  /** Maps a long-term access key id to an account (any other long-term key is the default account's). */
  addAccessKey(accessKeyId: string, account: string): void {
    if (isTemporary(accessKeyId)) throw new Error(`${accessKeyId} is a temporary access key id (ASIA…)`);
    this.accessKeys.set(accessKeyId, account);
  }

  issue(
    fields: Omit<IssuedCredentials, "accessKeyId" | "secretAccessKey" | "sessionToken">,
  ): IssuedCredentials {
    const issued: IssuedCredentials = {
      accessKeyId: `ASIA${base32(randomBytes(10))}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: randomBytes(120).toString("base64"),
      ...fields,
    };
    this.sessions.set(issued.accessKeyId, issued);
    return issued;
  }

  issued(): IssuedCredentials[] {
    return [...this.sessions.values()];
  }

  /** Makes temporary credentials (one key, or all) expire now. */
  expire(accessKeyId?: string, now = new Date()): void {
    for (const s of this.sessions.values()) {
      if (accessKeyId === undefined || s.accessKeyId === accessKeyId) s.expiration = now;
    }
  }

  /**
   * The caller of a request. Unsigned requests are the default account's. Temporary keys (`ASIA…`) must
   * have been issued here, with their session token, and not be expired.
   */
  resolve(scope: SigV4Scope | undefined, sessionToken: string | undefined, now: number): Resolution {
    if (!scope || !isTemporary(scope.accessKeyId)) {
      const caller = this.longTerm(scope?.accessKeyId ?? "standin");
      return { account: caller.account, caller };
    }
    const session = this.sessions.get(scope.accessKeyId);
    if (!session || session.sessionToken !== sessionToken) {
      return { problem: "invalid", account: this.defaultAccount };
    }
    if (now >= session.expiration.getTime()) return { problem: "expired", account: session.account };
    return {
      account: session.account,
      caller: {
        account: session.account,
        accessKeyId: session.accessKeyId,
        arn: session.arn,
        userId: session.assumedRoleId,
        session,
      },
    };
  }

  private longTerm(accessKeyId: string): Caller {
    const account = this.accessKeys.get(accessKeyId) ?? this.defaultAccount;
    return {
      account,
      accessKeyId,
      arn: `arn:aws:iam::${account}:user/standin`,
      userId: `AIDA${uniqueId(`${account}/${accessKeyId}`)}`,
    };
  }
}

export function isTemporary(accessKeyId: string): boolean {
  return accessKeyId.startsWith("ASIA");
}

/** 17 upper-case letters and digits derived from `seed`, like the unique ids of IAM users and roles. */
export function uniqueId(seed: string): string {
  return base32(createHash("sha256").update(seed).digest()).slice(0, 17);
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Buffer): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
