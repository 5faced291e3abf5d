import { Stack, type StackProps, Token } from "aws-cdk-lib";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { EcsDiscovery, type EcsDiscoveryProps } from "./ecs-discovery-construct.js";

export interface EcsDiscoveryStackProps extends StackProps {
  /** Props of the discovery construct. */
  readonly discovery?: EcsDiscoveryProps;
  /**
   * ARN of an existing SNS topic (same region) for alarm notifications; ignored when `discovery.alarmTopic` is
   * set. @default - the construct creates a topic
   */
  readonly alarmTopicArn?: string;
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** The existing topic of `alarmTopicArn`; CloudWatch alarms notify only topics of their own region. */
function existingTopic(stack: Stack, arn: string): sns.ITopic {
  if (!Token.isUnresolved(arn)) {
    const region = TOPIC_ARN.exec(arn)?.[1];
    if (region === undefined)
      throw new Error(
        `alarmTopicArn must be an SNS topic ARN such as arn:aws:sns:eu-west-1:111122223333:oncall, got "${arn}"`,
      );
    if (!Token.isUnresolved(stack.region) && region !== stack.region)
      throw new Error(
        `alarmTopicArn "${arn}" is in ${region}, but alarms can only notify a topic of their own region (${stack.region}); use {region} in the ARN`,
      );
  }
  return sns.Topic.fromTopicArn(stack, "AlarmTopic", arn);
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
      (props.alarmTopicArn ? existingTopic(this, props.alarmTopicArn) : undefined);
    this.discovery = new EcsDiscovery(this, "Discovery", {
      ...props.discovery,
      ...(alarmTopic ? { alarmTopic } : {}),
    });
    this.discovery.addOutputs(this);
  }
}
