#!/usr/bin/env node
// Runs the TypeScript sources through tsx; node/cli.ts does the rest and returns the exit code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../node/cli.ts');
process.exitCode = await main(process.argv.slice(2));
