/**
 * Reads in other accounts: for each account the function discovers besides its own, ECS and EC2 clients
 * signed with the credentials of the role it assumes there (ACCOUNT_ROLE_ARN), cached until shortly before
 * they expire, and paced on their own, since ECS and EC2 throttle per account and region. The STS client
 * is created (and its SDK loaded) only when another account is first read.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@aws-sdk/types";
import type { AccountSettings } from "../shared/account-settings.js";
import { roleArnFor } from "../shared/account-settings.js";
import { describeError } from "../shared/values.js";
import { countCalls } from "./call-counter.js";
import { type ClientOptions, createReadClients } from "./clients.js";
import { type EcsReadApi, SdkEcsReadApi, type TaskFinder } from "./ecs-read-api.js";
import type { MiddlewareClient } from "./middleware.js";

/** The role of an account could not be assumed: that account's clusters fail, the others go on. */
export class AccountAccessError extends Error {
  constructor(
    readonly account: string,
    readonly roleArn: string,
    override readonly cause: unknown,
  ) {
    super(`cannot assume ${roleArn} in account ${account}: ${describeError(cause)}`);
    this.name = "AccountAccessError";
  }
}

export interface AccountApis {
  /** The account the function's own credentials belong to. */
  ownAccount(): Promise<string>;
  /** The read API of another account (its role assumed on first use); it lists tasks for explain too. */
  apiFor(account: string): EcsReadApi & TaskFinder;
}

interface StsLike {
  assumeRole(roleArn: string, externalId: string | undefined): Promise<AwsCredentialIdentity>;
  callerAccount(): Promise<string>;
}

/** STS with the SDK loaded on first use; counted like every other client. */
function lazySts(options: ClientOptions): StsLike {
  let client: Promise<{
    send: (command: unknown) => Promise<unknown>;
    mod: typeof import("@aws-sdk/client-sts");
  }>;
  const sts = () => {
    client ??= import("@aws-sdk/client-sts").then((mod) => {
      const c = new mod.STSClient({
        maxAttempts: options.maxAttempts,
        retryMode: "adaptive",
        ...(options.region ? { region: options.region } : {}),
      });
      countCalls(c as unknown as MiddlewareClient, options.counter);
      return { send: (command: unknown) => c.send(command as never), mod };
    });
    return client;
  };
  return {
    async assumeRole(roleArn, externalId) {
      const { send, mod } = await sts();
      const out = (await send(
        new mod.AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: "prometheus-ecs-discovery",
          ...(externalId ? { ExternalId: externalId } : {}),
        }),
      )) as {
        Credentials?: {
          AccessKeyId?: string;
          SecretAccessKey?: string;
          SessionToken?: string;
          Expiration?: Date;
        };
      };
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error("AssumeRole returned no credentials");
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
        ...(c.Expiration ? { expiration: new Date(c.Expiration) } : {}),
      };
    },
    async callerAccount() {
      const { send, mod } = await sts();
      const out = (await send(new mod.GetCallerIdentityCommand({}))) as { Account?: string };
      if (!out.Account) throw new Error("GetCallerIdentity returned no account");
      return out.Account;
    },
  };
}

/**
 * Credentials of an assumed role, asked for again only when they are about to expire: five minutes before
 * (as the SDK's own providers), or a quarter of their lifetime for short-lived ones. Concurrent callers
 * share one AssumeRole; a failure is not cached.
 */
export function assumedRoleCredentials(
  assume: () => Promise<AwsCredentialIdentity>,
  now: () => number = Date.now,
): AwsCredentialIdentityProvider {
  let current: { credentials: AwsCredentialIdentity; refreshAt: number } | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    if (current && now() < current.refreshAt) return current.credentials;
    pending ??= (async () => {
      const issued = now();
      const credentials = await assume();
      const expires = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY;
      const margin = Math.min(5 * 60_000, (expires - issued) / 4);
      current = { credentials, refreshAt: expires - margin };
      return credentials;
    })().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

/** Read APIs per account: one set of clients, credentials and pacer per account, created on first use. */
export function createAccountApis(settings: AccountSettings, options: ClientOptions): AccountApis {
  const sts = lazySts(options);
  const apis = new Map<string, SdkEcsReadApi>();
  let own: Promise<string> | undefined;
  return {
    ownAccount() {
      own ??= sts.callerAccount().catch((error: unknown) => {
        own = undefined;
        throw error;
      });
      return own;
    },
    apiFor(account) {
      let api = apis.get(account);
      if (api) return api;
      const roleArn = roleArnFor(settings.roleArn, account);
      const credentials = assumedRoleCredentials(async () => {
        try {
          return await sts.assumeRole(roleArn, settings.externalId);
        } catch (error) {
          throw new AccountAccessError(account, roleArn, error);
        }
      });
      // No pacer given: a new one, this account's own token buckets.
      const { pacer: _, ...rest } = options;
      const clients = createReadClients({ ...rest, credentials });
      api = new SdkEcsReadApi(clients.ecs, clients.ec2);
      apis.set(account, api);
      return api;
    },
  };
}
