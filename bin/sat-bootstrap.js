#!/usr/bin/env node
// Runs the TypeScript sources through tsx; bootstrap/main.ts does the rest and returns the exit code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../bootstrap/main.ts');
process.exitCode = await main(process.argv.slice(2));
