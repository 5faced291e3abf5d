import { parseArgs } from "node:util";
import { startS3StandIn } from "./server.js";

/**
 * Runs the S3 stand-in on its own:
 *   npm run standin:s3 -- --port 4569 --bucket sd-bucket
 * and prints the environment that points the AWS SDK (and this project's CLI and sidecar) at it.
 */
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4569" },
    host: { type: "string", default: "127.0.0.1" },
    bucket: { type: "string", multiple: true, default: [] },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: npm run standin:s3 -- [--port 4569] [--host 127.0.0.1] [--bucket NAME]...\n" +
      "  --bucket: create this bucket at start (repeatable); CreateBucket works too",
  );
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, got ${values.port}`);
  process.exit(2);
}

const s3 = await startS3StandIn({ port, host: values.host });
for (const bucket of values.bucket) s3.store.createBucket(bucket);

console.log(`S3 stand-in listening on ${s3.url}`);
if (values.bucket.length > 0) console.log(`buckets: ${values.bucket.join(", ")}`);
console.log("\nexport these to point the AWS SDK at it (S3Client needs forcePathStyle: true):");
for (const [key, value] of Object.entries(s3.env())) console.log(`export ${key}=${value}`);

const shutdown = (): void => {
  s3.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
