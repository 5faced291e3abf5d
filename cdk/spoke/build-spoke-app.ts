import { App, type AppProps, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { parseRegions, REGIONS_KEY } from "../settings.js";
import { parseSpokeSettings, SPOKE_SETTINGS_KEY } from "./spoke-settings.js";
import { EcsDiscoverySpokeStack } from "./spoke-stack.js";

export const SPOKE_STACK_PREFIX = "PrometheusEcsDiscoverySpoke";
/** Where `npm run synth:spoke` writes the StackSets template. */
export const SPOKE_TEMPLATE_FILE = "dist/spoke/prometheus-ecs-discovery-spoke.template.json";

/** Name of a member account's spoke stack in one region: `PrometheusEcsDiscoverySpoke-<region>`. */
export function spokeStackName(region: string): string {
  return `${SPOKE_STACK_PREFIX}-${region}`;
}

export interface BuildSpokeAppOptions extends AppProps {
  /** Run the cdk-nag AwsSolutions checks at synth. @default true */
  readonly nag?: boolean;
}

/**
 * The spokes of one member account (its credentials): one stack per region of context `regions` (the hub's
 * regions), the parameters' defaults from context `spoke`. The reader role is created in `readerRoleRegion`,
 * by default the first region listed.
 */
export function buildSpokeApp(options: BuildSpokeAppOptions = {}): {
  app: App;
  stacks: EcsDiscoverySpokeStack[];
} {
  const { nag = true, ...appProps } = options;
  const app = new App(appProps);
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const regions = parseRegions(app.node.tryGetContext(REGIONS_KEY));
  const settings = parseSpokeSettings(app.node.tryGetContext(SPOKE_SETTINGS_KEY));
  const readerRoleRegion = settings.readerRoleRegion ?? regions[0];
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const stacks = regions.map((region) => {
    const stack = new EcsDiscoverySpokeStack(app, spokeStackName(region), {
      env: { region, ...(account ? { account } : {}) },
      settings: { ...settings, readerRoleRegion },
    });
    Tags.of(stack).add("service", "prometheus-ecs-discovery");
    return stack;
  });
  return { app, stacks };
}

/**
 * The StackSets template: one stack, no environment, every setting a parameter (the required ones without a
 * default), checked by cdk-nag. Written as `cdk synth` writes templates (one-space indentation).
 */
export function synthSpokeTemplate(): { template: Record<string, unknown>; body: string } {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new EcsDiscoverySpokeStack(app, SPOKE_STACK_PREFIX);
  const template = app.synth().getStackByName(stack.stackName).template as Record<string, unknown>;
  return { template, body: `${JSON.stringify(template, undefined, 1)}\n` };
}
