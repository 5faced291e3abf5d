import {
  Aws,
  CfnCondition,
  CfnOutput,
  CfnParameter,
  type DockerImageAssetLocation,
  type FileAssetLocation,
  Fn,
  type ISynthesisSession,
  Stack,
  type StackProps,
  StackSynthesizer,
} from "aws-cdk-lib";
import type { Construct } from "constructs";
import { HUB_EVENT_BUS_NAME } from "../hub-names.js";
import { EcsDiscoverySpoke } from "./spoke-construct.js";

/** The spoke's settings; in the template, each is a parameter and these are the parameters' defaults. */
export interface SpokeSettings {
  /** `HubAccountId`: the hub's account. */
  readonly hubAccountId?: string;
  /** `HubFunctionRoleArn`: the hub's function role (output `HubFunctionRoleArn`); "" = every hub region's. */
  readonly hubFunctionRoleArn?: string;
  /** `ExternalId`: the hub's `accountRoleExternalId`. */
  readonly externalId?: string;
  /** `OrganizationId`: only this organisation's principals may assume the reader role; "" = no check. */
  readonly organizationId?: string;
  /** `HubEventBusName`. @default "prometheus-ecs-discovery" */
  readonly hubEventBusName?: string;
  /** `Clusters`: cluster names to forward and read; empty = every cluster. */
  readonly clusters?: string[];
  /** `ReaderRoleRegion`: the one region whose spoke creates the account's reader role; "" = this stack's. */
  readonly readerRoleRegion?: string;
}

export interface EcsDiscoverySpokeStackProps extends StackProps {
  /** The parameters' defaults (`cdk deploy`); without them the template asks for every required one (StackSets). */
  readonly settings?: SpokeSettings;
}

/**
 * Writes the template and nothing else: no assets, no bootstrap version check, no deploy roles. StackSets take
 * the template as it is; `cdk deploy` deploys it with the caller's credentials into an unbootstrapped account.
 */
export class PlainTemplateSynthesizer extends StackSynthesizer {
  addFileAsset(): FileAssetLocation {
    throw new Error("the spoke template has no assets: StackSets deploy it as it is");
  }
  addDockerImageAsset(): DockerImageAssetLocation {
    throw new Error("the spoke template has no assets: StackSets deploy it as it is");
  }
  synthesize(session: ISynthesisSession): void {
    this.synthesizeTemplate(session);
    this.emitArtifact(session);
  }
}

/** A member account's spoke in one region, every setting a CloudFormation parameter. */
export class EcsDiscoverySpokeStack extends Stack {
  readonly spoke: EcsDiscoverySpoke;

  constructor(scope: Construct, id: string, props: EcsDiscoverySpokeStackProps = {}) {
    super(scope, id, {
      description:
        "prometheus-ecs-discovery spoke: forwards ECS task events to the hub, read-only role for it",
      synthesizer: new PlainTemplateSynthesizer(),
      analyticsReporting: false,
      ...props,
    });
    const s = props.settings ?? {};
    const parameter = (
      name: string,
      description: string,
      options: Partial<ConstructorParameters<typeof CfnParameter>[2]>,
    ) => new CfnParameter(this, name, { type: "String", description, ...options });
    const hubAccountId = parameter("HubAccountId", "The hub's AWS account id", {
      allowedPattern: "^\\d{12}$",
      ...(s.hubAccountId !== undefined ? { default: s.hubAccountId } : {}),
    });
    const hubFunctionRoleArn = parameter(
      "HubFunctionRoleArn",
      "The hub's function role (its HubFunctionRoleArn output); empty: the hub's role in every region",
      {
        allowedPattern: "^(arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/*?-]+)?$",
        default: s.hubFunctionRoleArn ?? "",
      },
    );
    const externalId = parameter("ExternalId", "The external id the hub passes (its accountRoleExternalId)", {
      allowedPattern: "^[\\w+=,.@:/-]{2,1224}$",
      ...(s.externalId !== undefined ? { default: s.externalId } : {}),
    });
    const organizationId = parameter(
      "OrganizationId",
      "Only principals of this organisation may assume the reader role; empty: no check",
      { allowedPattern: "^(o-[a-z0-9]{10,32})?$", default: s.organizationId ?? "" },
    );
    const hubEventBusName = parameter("HubEventBusName", "The hub's event bus in this region", {
      allowedPattern: "^[\\w.-]{1,256}$",
      default: s.hubEventBusName ?? HUB_EVENT_BUS_NAME,
    });
    const clusters = new CfnParameter(this, "Clusters", {
      type: "CommaDelimitedList",
      description:
        "ECS cluster names whose events are forwarded and which the hub may read; empty: every cluster",
      default: (s.clusters ?? []).join(","),
    });
    const readerRoleRegion = parameter(
      "ReaderRoleRegion",
      "The one region whose stack creates the account's reader role (IAM is global); empty: this stack's region",
      { allowedPattern: "^([a-z]{2}(-[a-z]+)+-\\d)?$", default: s.readerRoleRegion ?? "" },
    );
    const createReaderRole = new CfnCondition(this, "CreateReaderRole", {
      expression: Fn.conditionOr(
        Fn.conditionEquals(readerRoleRegion.valueAsString, ""),
        Fn.conditionEquals(readerRoleRegion.valueAsString, Aws.REGION),
      ),
    });
    this.spoke = new EcsDiscoverySpoke(this, "Spoke", {
      hubAccountId: hubAccountId.valueAsString,
      hubFunctionRoleArn: hubFunctionRoleArn.valueAsString,
      externalId: externalId.valueAsString,
      organizationId: organizationId.valueAsString,
      hubEventBusName: hubEventBusName.valueAsString,
      clusters: clusters.valueAsList,
      createReaderRole,
    });
    new CfnOutput(this, "HubEventBusArn", {
      value: this.spoke.hubEventBusArn,
      description: "The hub's event bus this spoke forwards ECS task events to",
    });
    if (this.spoke.readerRole !== undefined) {
      new CfnOutput(this, "ReaderRoleArn", {
        value: this.spoke.readerRole.roleArn,
        description: "The read-only role the hub's function assumes",
        condition: createReaderRole,
      });
    }
  }
}
