#!/usr/bin/env node
// The member account's spokes, for `cdk deploy` with that account's credentials (a handful of accounts):
//   npx cdk deploy --app "npx tsx cdk/spoke/spoke-app.ts" --all -c regions=eu-west-1 \
//     -c spoke='{"hubAccountId":"111122223333","externalId":"…"}'
// Hundreds of accounts: `npm run synth:spoke` and CloudFormation StackSets (cdk/README.md).
import { buildSpokeApp } from "./build-spoke-app.js";

buildSpokeApp().app.synth();
