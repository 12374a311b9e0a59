#!/usr/bin/env bun
// The outpost executable: `outpost gateway --config FILE`, `outpost check-config FILE`, … (docs/cli.md).
import { main } from '../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
