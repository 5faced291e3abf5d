#!/usr/bin/env node
// Entry point of `cdk synth` / `cdk deploy` (see cdk.json): one stack per region listed in context `regions`.
import { buildApp } from "./build-app.js";

buildApp().app.synth();
