import { Stack, type StackProps } from "aws-cdk-lib";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { EcsDiscovery, type EcsDiscoveryProps } from "./ecs-discovery-construct.js";

export interface EcsDiscoveryStackProps extends StackProps {
  /** Props of the discovery construct. */
  readonly discovery?: EcsDiscoveryProps;
  /** ARN of an SNS topic (same region) for alarm notifications; ignored when `discovery.alarmTopic` is set. */
  readonly alarmTopicArn?: string;
}

/** One region's deployment: the discovery construct plus stack outputs. */
export class EcsDiscoveryStack extends Stack {
  readonly discovery: EcsDiscovery;

  constructor(scope: Construct, id: string, props: EcsDiscoveryStackProps = {}) {
    super(scope, id, {
      description: "prometheus-ecs-discovery: ECS targets for Prometheus as file_sd JSON in S3",
      ...props,
    });
    const alarmTopic =
      props.discovery?.alarmTopic ??
      (props.alarmTopicArn ? sns.Topic.fromTopicArn(this, "AlarmTopic", props.alarmTopicArn) : undefined);
    this.discovery = new EcsDiscovery(this, "Discovery", {
      ...props.discovery,
      ...(alarmTopic ? { alarmTopic } : {}),
    });
    this.discovery.addOutputs(this);
  }
}
