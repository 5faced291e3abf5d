#!/usr/bin/env node
// `npm run synth:spoke [-- OUTFILE]`: the spoke's plain CloudFormation template, for StackSets (cdk/README.md).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SPOKE_TEMPLATE_FILE, synthSpokeTemplate } from "./build-spoke-app.js";

const out = process.argv[2] ?? SPOKE_TEMPLATE_FILE;
const { body } = synthSpokeTemplate();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, body);
console.log(`${out}: ${Buffer.byteLength(body)} bytes`);
