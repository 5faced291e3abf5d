/**
 * The member-account side of a hub (cdk/accounts.ts): a rule that forwards the account's ECS task events to
 * the hub's event bus in the same region, and the read-only role the hub's function assumes to read the
 * account's ECS and EC2. Small and parameter-driven, so one template serves hundreds of accounts.
 */
import { Aws, type CfnCondition, CfnResource, Fn, Stack, Token } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { checkExternalId, isAccountId } from "../../lambda/shared/account-settings.js";
import { ecsReadStatements } from "../engine-policy.js";
import { DEFAULT_READER_ROLE_NAME, HUB_EVENT_BUS_NAME, HUB_ROLE_NAME_PREFIX } from "../hub-names.js";
import { taskEventPattern } from "../triggers.js";
import { choose, chooseList, chooseString, eachWith, type Presence, presenceOf } from "./deploy-time.js";
import { acknowledgeSpokeNagFindings } from "./spoke-nag.js";

export interface EcsDiscoverySpokeProps {
  /** The hub's account: the owner of the event bus and of the function role the reader role trusts. */
  readonly hubAccountId: string;
  /**
   * The hub function role (or an ARN pattern of such roles) that may assume the reader role; the hub's
   * `HubFunctionRoleArn` output. @default - the hub's function role in every region,
   * `arn:{partition}:iam::{hubAccountId}:role/prometheus-ecs-discovery-hub-*` ("" counts as unset)
   */
  readonly hubFunctionRoleArn?: string;
  /** The external id the hub passes (its `accountRoleExternalId`); the reader role demands it. */
  readonly externalId: string;
  /** The hub's organisation: only its principals may assume the reader role. @default - no check ("" too) */
  readonly organizationId?: string;
  /** The hub's event bus, in this region. @default "prometheus-ecs-discovery" */
  readonly hubEventBusName?: string;
  /** Cluster names: only their events are forwarded and only they can be read. @default - every cluster */
  readonly clusters?: string[];
  /**
   * Whether this stack creates the reader role. IAM roles are global: of an account's spokes in several
   * regions, exactly one must create it (a condition decides it in a StackSets template). @default true
   */
  readonly createReaderRole?: boolean | CfnCondition;
}

const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/*?-]+$/;
const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const BUS_NAME = /^[\w.-]{1,256}$/;

/** Forwards a member account's ECS task events to the hub, and lets the hub's function read its ECS and EC2. */
export class EcsDiscoverySpoke extends Construct {
  /** The rule on the default event bus that forwards the ECS task events to the hub's bus. */
  readonly forwardRule: events.Rule;
  /** The hub's event bus this spoke forwards to. */
  readonly hubEventBusArn: string;
  /** The reader role, `prometheus-ecs-discovery-reader` (absent when another region's spoke creates it). */
  readonly readerRole?: iam.Role;

  constructor(scope: Construct, id: string, props: EcsDiscoverySpokeProps) {
    super(scope, id);
    checkSpokeProps(props);
    const stack = Stack.of(this);
    const clusters = props.clusters ?? [];
    const hasClusters = presenceOf(this, "HasClusters", clusters);
    const busName = props.hubEventBusName ?? HUB_EVENT_BUS_NAME;
    this.hubEventBusArn = `arn:${stack.partition}:events:${stack.region}:${props.hubAccountId}:event-bus/${busName}`;
    this.forwardRule = buildForwardRule(this, clusters, hasClusters);
    this.forwardRule.addTarget(
      new targets.EventBus(events.EventBus.fromEventBusArn(this, "HubEventBus", this.hubEventBusArn)),
    );
    const create = props.createReaderRole ?? true;
    if (create !== false) {
      this.readerRole = buildReaderRole(this, props, clusters, hasClusters);
      if (create !== true) {
        for (const child of this.readerRole.node.findAll()) {
          if (child instanceof CfnResource) child.cfnOptions.condition = create;
        }
      }
    }
  }
}

/** Every plain (not deploy-time) value, checked at synth; parameters carry their own patterns. */
export function checkSpokeProps(props: Partial<EcsDiscoverySpokeProps>): void {
  const plain = (v: string | undefined): v is string => v !== undefined && v !== "" && !Token.isUnresolved(v);
  if (
    props.hubAccountId !== undefined &&
    !Token.isUnresolved(props.hubAccountId) &&
    !isAccountId(props.hubAccountId)
  )
    throw new Error(`hubAccountId must be a 12-digit AWS account id, got "${props.hubAccountId}"`);
  if (props.externalId !== undefined && !Token.isUnresolved(props.externalId))
    checkExternalId(props.externalId, "externalId");
  if (plain(props.organizationId) && !ORGANIZATION_ID.test(props.organizationId))
    throw new Error(
      `organizationId must be an AWS Organizations id such as o-a1b2c3d4e5, got "${props.organizationId}"`,
    );
  if (plain(props.hubFunctionRoleArn) && !ROLE_ARN.test(props.hubFunctionRoleArn))
    throw new Error(`hubFunctionRoleArn must be an IAM role ARN, got "${props.hubFunctionRoleArn}"`);
  if (plain(props.hubEventBusName) && !BUS_NAME.test(props.hubEventBusName))
    throw new Error(`hubEventBusName "${props.hubEventBusName}" is not an event bus name`);
  const clusters = props.clusters ?? [];
  if (!Token.isUnresolved(clusters)) {
    const bad = clusters.find((c) => !CLUSTER_NAME.test(c));
    if (bad !== undefined) throw new Error(`clusters has "${bad}", which is not an ECS cluster name`);
  }
}

/** The hub's pattern (cdk/triggers.ts), narrowed to the clusters by the end of their ARNs when given. */
function buildForwardRule(scope: Construct, clusters: readonly string[], hasClusters: Presence): events.Rule {
  const suffixes = eachWith(":cluster/", clusters);
  const rule = new events.Rule(scope, "ForwardTaskEvents", {
    description: "ECS task transitions, forwarded to the prometheus-ecs-discovery hub's event bus",
    eventPattern: taskEventPattern(hasClusters.kind === "set" ? suffixes.map((suffix) => ({ suffix })) : []),
  });
  if (hasClusters.kind === "deploy-time") {
    // A list parameter cannot become a list of objects; the pattern is written as a JSON string instead.
    const every = cfnPattern(taskEventPattern());
    const [before, after] = JSON.stringify(cfnPattern(taskEventPattern(["§"]))).split('"§"') as [
      string,
      string,
    ];
    const matchers = Fn.join('"},{"suffix":":cluster/', [...clusters]);
    const joined = Fn.join("", [before, '{"suffix":":cluster/', matchers, '"}', after]);
    const cfn = rule.node.defaultChild as events.CfnRule;
    cfn.addPropertyOverride("EventPattern", choose<unknown>(hasClusters, joined, every));
  }
  return rule;
}

/** An `events.EventPattern` as CloudFormation spells it. */
function cfnPattern(pattern: events.EventPattern): Record<string, unknown> {
  return { source: pattern.source, "detail-type": pattern.detailType, detail: pattern.detail };
}

/** The reader role: the ECS and EC2 reads of discovery, for the hub's function role only. */
function buildReaderRole(
  scope: Construct,
  props: EcsDiscoverySpokeProps,
  clusters: readonly string[],
  hasClusters: Presence,
): iam.Role {
  const stack = Stack.of(scope);
  const hub = props.hubAccountId;
  const role = new iam.Role(scope, "ReaderRole", {
    roleName: DEFAULT_READER_ROLE_NAME,
    description: "prometheus-ecs-discovery: read-only ECS and EC2, for the hub account's discovery function",
    assumedBy: new iam.AccountPrincipal(hub),
  });
  const hasRoleArn = presenceOf(scope, "HasHubFunctionRoleArn", props.hubFunctionRoleArn);
  const everyHubRole = `arn:${stack.partition}:iam::${hub}:role/${HUB_ROLE_NAME_PREFIX}*`;
  const principalArn = chooseString(hasRoleArn, props.hubFunctionRoleArn ?? "", everyHubRole);
  const hasOrg = presenceOf(scope, "HasOrganizationId", props.organizationId);
  // The hub account's principals, narrowed to its function role by aws:PrincipalArn; without an organisation,
  // the aws:PrincipalOrgID key is left out (AWS::NoValue when a parameter decides it).
  const orgId = choose<unknown>(hasOrg, props.organizationId, Aws.NO_VALUE);
  const cfnRole = role.node.defaultChild as iam.CfnRole;
  cfnRole.addPropertyOverride("AssumeRolePolicyDocument.Statement.0.Condition", {
    StringEquals: {
      "sts:ExternalId": props.externalId,
      ...(hasOrg.kind === "unset" ? {} : { "aws:PrincipalOrgID": orgId }),
    },
    ArnLike: { "aws:PrincipalArn": principalArn },
  });
  // The role is global: it serves the hubs of every region, so region is a wildcard. A list parameter's names can
  // only take literal prefixes, so named resources match any partition and account: ECS has no cross-account
  // access, and this role's credentials reach only its own account.
  const every = (type: string) => `arn:${stack.partition}:ecs:*:${stack.account}:${type}/*`;
  const named = (type: string, suffix = "") => eachWith(`arn:*:ecs:*:*:${type}/`, clusters, suffix);
  const pick = (type: string, suffix?: string) => chooseList(hasClusters, named(type, suffix), [every(type)]);
  const arns = {
    scoped: false, // ArnLike: the patterns carry wildcards either way
    clusters: pick("cluster"),
    tasks: pick("task", "/*"),
    containerInstances: pick("container-instance", "/*"),
    services: pick("service", "/*"),
  };
  for (const statement of ecsReadStatements(arns, true)) role.addToPrincipalPolicy(statement);
  acknowledgeSpokeNagFindings(role, [arns.clusters, arns.tasks, arns.containerInstances, arns.services]);
  return role;
}
