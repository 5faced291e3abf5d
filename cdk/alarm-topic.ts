import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type { Construct } from "constructs";

export interface AlarmTopicProps {
  /** An existing topic; none is created then. */
  readonly alarmTopic?: sns.ITopic;
  /** An e-mail address subscribed to the topic (created or existing). */
  readonly alarmEmail?: string;
}

/**
 * The topic every alarm notifies: the one given, or a new one that accepts only TLS publishers. Not
 * encrypted with KMS: CloudWatch cannot publish to a topic under the AWS managed key `alias/aws/sns`, a
 * customer managed key would be this stack's only key, and the notifications carry alarm names and states.
 */
export function buildAlarmTopic(scope: Construct, props: AlarmTopicProps): sns.ITopic {
  const topic =
    props.alarmTopic ??
    new sns.Topic(scope, "AlarmTopic", {
      displayName: "prometheus-ecs-discovery alarms",
      enforceSSL: true,
    });
  if (props.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
  return topic;
}
