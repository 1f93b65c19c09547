#!/usr/bin/env node
// Thin entry point: the CLI lives in agent/cli (compiled to dist/).
import { main } from '../dist/agent/cli/main.js';

process.exitCode = await main(process.argv);
