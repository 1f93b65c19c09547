#!/usr/bin/env node
// Thin entry point: the CLI lives in agent/cli (compiled to dist/).
import v8 from 'node:v8';

// V8's young generation keeps its first size (1 MiB semi-spaces) instead of
// growing to 16 MiB once much survives: the agent stays small with many
// processes cached, and its collections stay short. Set before anything
// loads, so startup does not grow it either.
v8.setFlagsFromString('--semi-space-growth-factor=1');

const { main } = await import('../dist/agent/cli/main.js');
process.exitCode = await main(process.argv);
