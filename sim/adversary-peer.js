#!/usr/bin/env node
// `adversary-peer.js <kind> start ...`: a `sat-peer start` whose peer is one of the sim's adversaries
// (sim/adversaries.ts). The sim runs it in place of bin/sat-peer.js for the slots it attacks.
import { register } from 'tsx/esm/api';

register();
const [kind, ...args] = process.argv.slice(2);
const { setAdversaryHooks } = await import('../node/peer/adversary-hooks.ts');
const { adversaryOf } = await import('./adversaries.ts');
const deadline = args.indexOf('--deadline');
setAdversaryHooks(adversaryOf(kind, deadline >= 0 ? 1000 * Number(args[deadline + 1]) : undefined));
const { main } = await import('../node/cli/main.ts');
process.exitCode = await main(args);
setTimeout(() => process.exit(), 2000).unref();
