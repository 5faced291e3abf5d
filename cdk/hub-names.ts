/**
 * The names hub and spokes agree on without being told: the hub's event bus, the hub function's role in each
 * region, and the reader role in each member account (from the settings contract, which the function reads).
 */
import type { Stack } from "aws-cdk-lib";

export { DEFAULT_READER_ROLE_NAME } from "../lambda/shared/account-settings.js";

/** The hub's custom event bus, in every hub region; spokes forward ECS task events to it. */
export const HUB_EVENT_BUS_NAME = "prometheus-ecs-discovery";

/** The hub function's role name starts with this; the region follows. */
export const HUB_ROLE_NAME_PREFIX = "prometheus-ecs-discovery-hub-";

/** The hub function's role in `region` (`prometheus-ecs-discovery-hub-eu-west-1`); IAM names are per account. */
export function hubRoleName(region: string): string {
  return `${HUB_ROLE_NAME_PREFIX}${region}`;
}

/** `arn:{partition}:iam::{account}:role/{name}`, in the stack's partition. */
export function roleArn(stack: Stack, account: string, name: string): string {
  return `arn:${stack.partition}:iam::${account}:role/${name}`;
}
