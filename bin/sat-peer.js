#!/usr/bin/env node
// Runs the TypeScript sources through tsx; node/cli/main.ts does the rest and returns the exit code.
// The sim's command lives in sim/ (node/ never imports it), so it is added here.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../node/cli/main.ts');
const { simCommand, SimError } = await import('../sim/command.ts');
process.exitCode = await main(process.argv.slice(2), { commands: [simCommand], userErrors: [SimError] });
// The command is over: a handle something left open (a socket a failed start did not close) must not keep the
// process running. The timer is unref'd, so a process with nothing left open exits at once.
setTimeout(() => process.exit(), 2000).unref();
