/** Real SDK clients pointed at a stand-in, and a helper to look at the error a call fails with. */
import { EC2Client } from "@aws-sdk/client-ec2";
import { ECSClient } from "@aws-sdk/client-ecs";
import type { StandIn } from "../standin/index.js";

const credentials = { accessKeyId: "standin", secretAccessKey: "standin" };

export const ecsClient = (s: StandIn, maxAttempts = 3) =>
  new ECSClient({ endpoint: s.url, region: s.region, credentials, maxAttempts });
export const ec2Client = (s: StandIn, maxAttempts = 3) =>
  new EC2Client({ endpoint: s.url, region: s.region, credentials, maxAttempts });

/** The error `promise` rejects with; fails the test when it resolves. */
export async function errorOf(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail");
}
