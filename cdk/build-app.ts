import { App, type AppProps, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { EcsDiscoveryProps } from "./ecs-discovery-construct.js";
import { EcsDiscoveryStack } from "./ecs-discovery-stack.js";
import { parseRegions, parseSettings, REGIONS_KEY, SETTINGS_KEY, settingsForRegion } from "./settings.js";

export const STACK_PREFIX = "PrometheusEcsDiscovery";

/** Name of the stack of one region; CI deploys `PrometheusEcsDiscovery-<region>`. */
export function stackName(region: string): string {
  return `${STACK_PREFIX}-${region}`;
}

export interface BuildAppOptions extends AppProps {
  /** Props that override the context settings in every region (tests use this to point at a stub handler). */
  readonly overrides?: Partial<EcsDiscoveryProps>;
  /** Run the cdk-nag AwsSolutions checks at synth. @default true */
  readonly nag?: boolean;
}

/** The app: one stack per region of context `regions`, settings from context `discovery`. */
export function buildApp(options: BuildAppOptions = {}): { app: App; stacks: EcsDiscoveryStack[] } {
  const { overrides, nag = true, ...appProps } = options;
  const app = new App(appProps);
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const regions = parseRegions(app.node.tryGetContext(REGIONS_KEY));
  const settings = parseSettings(app.node.tryGetContext(SETTINGS_KEY));
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const stacks = regions.map((region) => {
    const { alarmTopicArn, ...discovery } = settingsForRegion(settings, region);
    const stack = new EcsDiscoveryStack(app, stackName(region), {
      env: { region, ...(account ? { account } : {}) },
      discovery: { ...discovery, ...overrides },
      ...(alarmTopicArn ? { alarmTopicArn } : {}),
    });
    Tags.of(stack).add("service", "prometheus-ecs-discovery");
    return stack;
  });
  return { app, stacks };
}
