/**
 * A stand-in for the Lambda runtime: loads `lambda/handler.ts` once (a cold start, with configuration
 * from the environment exactly as in AWS) and then runs one invocation per IPC message, so later
 * invocations are warm, as in a real execution environment. The function's own output (Powertools logs
 * and EMF metrics) goes to this process's stdout, which the demo sends to a log file, like CloudWatch.
 */
import type { Context } from "aws-lambda";

interface Request {
  id: number;
  event: unknown;
}

const account = process.env.DEMO_ACCOUNT_ID ?? "123456789012";
const region = process.env.AWS_REGION ?? "us-east-1";
const functionName = "prometheus-ecs-discovery-demo";

const send = (message: unknown): void => {
  process.send?.(message);
};

let handler: (event: unknown, context?: Context) => Promise<unknown>;
try {
  ({ handler } = await import("../../lambda/handler.js"));
} catch (error) {
  // An init failure (a bad configuration variable, say) is what Lambda reports as Runtime.InitError.
  send({ init: "failed", error: (error as Error).message });
  process.exit(1);
}
send({ init: "ok" });

let invocation = 0;
process.on("message", (raw: unknown) => {
  const { id, event } = raw as Request;
  invocation += 1;
  const context = {
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: `demo-${process.pid}-${invocation}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "demo",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } as Context;
  handler(event, context).then(
    (result) => send({ id, result }),
    (error: unknown) =>
      send({
        id,
        error: (error as Error).message,
        summary: (error as { summary?: unknown }).summary,
      }),
  );
});
process.on("disconnect", () => process.exit(0));
