/**
 * The hub: a deployment that discovers other accounts besides its own. Their spokes (cdk/spoke/) forward ECS
 * task events to the hub's event bus, and the function reads their ECS and EC2 through the reader role each
 * holds. Off unless `accounts` or `organizationId` is set.
 */
import { type Stack, Token } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import {
  accountEnvironment,
  DEFAULT_ACCOUNT_ROLE_ARN,
  isAccountId,
  roleArnFor,
} from "../lambda/shared/account-settings.js";
import type { WildcardResource } from "./engine-policy.js";
import { HUB_EVENT_BUS_NAME } from "./hub-names.js";
import type { EcsDiscoveryProps } from "./props.js";

/** What the function discovers beyond its own account, checked. */
export interface HubAccounts {
  /** Other accounts or an organisation are configured: the stack is a hub. */
  readonly isHub: boolean;
  /** The listed accounts, without the stack's own. */
  readonly accounts: readonly string[];
  readonly organizationId: string | undefined;
  /** The reader role's ARN, with `{account}` in place of the account id. */
  readonly roleArnTemplate: string;
  /**
   * The account segment of the keys the function reads and writes: its own account and the listed ones, or
   * `*` for an organisation whose accounts are not listed.
   */
  readonly keyAccounts: readonly string[];
  /** `ACCOUNTS`, `ACCOUNT_ROLE_ARN` and `ACCOUNT_ROLE_EXTERNAL_ID`; empty for a single account. */
  readonly environment: Readonly<Record<string, string>>;
}

const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;

/** The account props, checked at synth with the rules the function applies at cold start. */
export function checkAccounts(stack: Stack, props: EcsDiscoveryProps): HubAccounts {
  const listed = props.accounts ?? [];
  for (const account of listed) {
    if (Token.isUnresolved(account) || !isAccountId(account))
      throw new Error(`accounts has "${account}", which is not a 12-digit AWS account id`);
  }
  const { organizationId, accountRoleArn, accountRoleExternalId: externalId } = props;
  if (organizationId !== undefined && !ORGANIZATION_ID.test(organizationId))
    throw new Error(
      `organizationId must be an AWS Organizations id such as o-a1b2c3d4e5, got "${organizationId}"`,
    );
  const own = Token.isUnresolved(stack.account) ? undefined : stack.account;
  const accounts = [...new Set(listed)].filter((a) => a !== own);
  const isHub = accounts.length > 0 || organizationId !== undefined;
  const roleArnTemplate = accountRoleArn ?? DEFAULT_ACCOUNT_ROLE_ARN;
  if (!isHub) {
    if (accountRoleArn !== undefined || externalId !== undefined)
      throw new Error(
        "accountRoleArn and accountRoleExternalId need other accounts: set accounts or organizationId",
      );
    return {
      isHub,
      accounts,
      organizationId,
      roleArnTemplate,
      keyAccounts: [stack.account],
      environment: {},
    };
  }
  if (externalId === undefined)
    throw new Error(
      "accountRoleExternalId is required with accounts or organizationId: every spoke's reader role demands it " +
        "(its ExternalId parameter)",
    );
  // ConfigError naming the variable, as the function would at cold start.
  const environment = accountEnvironment({ accounts, roleArn: roleArnTemplate, externalId });
  const keyAccounts = accounts.length > 0 ? [stack.account, ...accounts] : ["*"];
  return { isHub, accounts, organizationId, roleArnTemplate, keyAccounts, environment };
}

/**
 * The hub's event bus, with the fixed name spokes target, taking `events:PutEvents` from the listed accounts
 * (and only from the organisation's, when one is given) or, with an organisation alone, from any of its
 * accounts. Only AWS can put `aws.ecs` events: a member account can forward its own ECS events, not forge
 * another account's.
 */
export function buildHubEventBus(scope: Construct, hub: HubAccounts): events.EventBus {
  const bus = new events.EventBus(scope, "HubEventBus", {
    eventBusName: HUB_EVENT_BUS_NAME,
    description: "prometheus-ecs-discovery: ECS task events forwarded by member accounts",
  });
  const statement = new iam.PolicyStatement({
    sid: "SpokesPutEvents",
    actions: ["events:PutEvents"],
    principals:
      hub.accounts.length > 0
        ? hub.accounts.map((a) => new iam.AccountPrincipal(a))
        : [new iam.AnyPrincipal()],
    resources: [bus.eventBusArn],
    ...(hub.organizationId !== undefined
      ? { conditions: { StringEquals: { "aws:PrincipalOrgID": hub.organizationId } } }
      : {}),
  });
  // One statement with a plain id. (cdk-nag's EventBusOpenAccess check, which this passes, reads a deprecated
  // property of the resource and prints a deprecation warning at synth.)
  new events.CfnEventBusPolicy(scope, "HubEventBusPolicy", {
    eventBusName: bus.eventBusName,
    statementId: "SpokesPutEvents",
    statement: statement.toStatementJson(),
  });
  return bus;
}

/**
 * Lets the function assume exactly the listed accounts' reader roles, or, with an organisation alone, the
 * reader role of any account of the organisation; returns that wildcard with its reason.
 */
export function grantAssumeReaderRoles(role: iam.Role, hub: HubAccounts): WildcardResource[] {
  if (!hub.isHub) return [];
  if (hub.accounts.length > 0) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "AssumeReaderRoles",
        actions: ["sts:AssumeRole"],
        resources: hub.accounts.map((a) => roleArnFor(hub.roleArnTemplate, a)),
      }),
    );
    return [];
  }
  const resource = roleArnFor(hub.roleArnTemplate, "*");
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "AssumeReaderRoles",
      actions: ["sts:AssumeRole"],
      resources: [resource],
      conditions: { StringEquals: { "aws:ResourceOrgID": hub.organizationId } },
    }),
  );
  return [
    {
      resource,
      reason:
        "organizationId without accounts: the member accounts cannot be listed at synth, so the reader role of any " +
        "account, narrowed to the organisation's by aws:ResourceOrgID; set accounts to name them.",
    },
  ];
}
