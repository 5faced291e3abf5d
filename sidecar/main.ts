#!/usr/bin/env node
/** Entry point of prometheus-ecs-discovery-sidecar (bundled to dist/sidecar.mjs). */
import { describeError } from "../lambda/shared/values.js";
import { runSidecar } from "./app.js";

runSidecar(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`prometheus-ecs-discovery-sidecar: ${describeError(error)}\n`);
    process.exit(1);
  },
);
