/**
 * The accounts half of the settings contract: which AWS accounts the function discovers besides its own,
 * and the role it assumes in each (`ACCOUNTS`, `ACCOUNT_ROLE_ARN`, `ACCOUNT_ROLE_EXTERNAL_ID`). Read by the
 * function's config, the CLI and the construct alike. Variable names come from `settings.ts`.
 */
import { ConfigError, type Env, read, VARIABLES } from "./settings.js";

/** The read-only role each member account holds for the hub's function (the spoke stack creates it). */
export const DEFAULT_READER_ROLE_NAME = "prometheus-ecs-discovery-reader";
export const ACCOUNT_PLACEHOLDER = "{account}";
export const DEFAULT_ACCOUNT_ROLE_ARN = `arn:aws:iam::${ACCOUNT_PLACEHOLDER}:role/${DEFAULT_READER_ROLE_NAME}`;

export interface AccountSettings {
  /** Accounts to discover, besides (or including) the function's own; empty: its own account only. */
  accounts: string[];
  /** The role to assume in each, with `{account}` in place of the account id. */
  roleArn: string;
  externalId?: string;
}

const ACCOUNT_ID = /^\d{12}$/;
// IAM role ARNs: partition, empty region, the account (here the placeholder), a path and a name.
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\{account\}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
// STS: 2 to 1,224 characters of [\w+=,.@:/-].
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

export function isAccountId(value: string): boolean {
  return ACCOUNT_ID.test(value);
}

/** Account ids separated by commas or white space, deduplicated, in the order given. */
export function parseAccountList(raw: string | undefined, variable: string = VARIABLES.accounts): string[] {
  if (raw === undefined) return [];
  const items = raw.split(/[,\s]+/).filter((s) => s !== "");
  const bad = items.find((item) => !isAccountId(item));
  if (bad !== undefined)
    throw new ConfigError(variable, `has "${bad}", which is not a 12-digit AWS account id`);
  return [...new Set(items)];
}

export function checkRoleArnTemplate(value: string, variable: string = VARIABLES.accountRoleArn): string {
  if (!ROLE_ARN.test(value)) {
    throw new ConfigError(
      variable,
      `must be an IAM role ARN with ${ACCOUNT_PLACEHOLDER} in place of the account id (default "${DEFAULT_ACCOUNT_ROLE_ARN}"), got "${value}"`,
    );
  }
  return value;
}

export function checkExternalId(value: string, variable: string = VARIABLES.accountRoleExternalId): string {
  if (!EXTERNAL_ID.test(value))
    throw new ConfigError(variable, `must be 2 to 1224 letters, digits and any of _+=,.@:/-, got "${value}"`);
  return value;
}

export function readAccountSettings(env: Env): AccountSettings {
  const settings: AccountSettings = {
    accounts: parseAccountList(read(env, VARIABLES.accounts)),
    roleArn: checkRoleArnTemplate(read(env, VARIABLES.accountRoleArn) ?? DEFAULT_ACCOUNT_ROLE_ARN),
  };
  const externalId = read(env, VARIABLES.accountRoleExternalId);
  if (externalId !== undefined) settings.externalId = checkExternalId(externalId);
  return settings;
}

/** The role to assume in `account`. */
export function roleArnFor(template: string, account: string): string {
  return template.split(ACCOUNT_PLACEHOLDER).join(account);
}

/** For the construct: the variables that make the function read `input`, checked by the same rules. */
export function accountEnvironment(input: Partial<AccountSettings>): Record<string, string> {
  const env: Record<string, string> = {};
  if (input.accounts && input.accounts.length > 0) env[VARIABLES.accounts] = input.accounts.join(",");
  if (input.roleArn !== undefined) env[VARIABLES.accountRoleArn] = input.roleArn;
  if (input.externalId !== undefined) env[VARIABLES.accountRoleExternalId] = input.externalId;
  readAccountSettings(env);
  return env;
}
