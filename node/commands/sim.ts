// `sat-peer sim`: a whole team of real peer processes on this machine (sim/run.ts), with a live
// per-stage table; --json prints each stage as a JSON line and a summary object last.
import path from 'node:path';
import { DEFAULT_CONFIG, type SimStage, runSim } from '../../sim/run.ts';
import type { Command } from './command.ts';
import { numberFlag, stringFlag } from './options.ts';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export const simCommand: Command = {
  name: 'sim',
  summary: 'run a whole team on this machine: a bootstrap and one real peer process per slot on 127.0.0.1',
  usage: 'sat-peer sim [--config <file>] [--stages K] [--out <dir>] [--threads N] [--json]',
  args: [],
  options: {
    config: { type: 'string', value: '<file>', description: 'the team\'s SAT config (default: the embedded demo team, models/demo/demo.yaml)' },
    stages: { type: 'string', value: '<k>', description: 'stages to run (default the config\'s training.num_stages)' },
    out: { type: 'string', value: '<dir>', description: 'where the team file and every peer\'s data go; emptied first (default outputs/sim)' },
    threads: { type: 'string', value: '<n>', description: 'intra-op threads per peer (default: the cores shared among the peers)' },
  },
  async run({ options, json, verbose }) {
    const stages = options.stages === undefined ? undefined : numberFlag(options, 'stages', 0, { integer: true, min: 1 });
    const threads = options.threads === undefined ? undefined : numberFlag(options, 'threads', 0, { integer: true, min: 1 });
    const say = (line: string) => { if (!json) process.stdout.write(`${line}\n`); };
    say('stage  order  reward  test acc   per agent (KL quantile vs delta / beta / backtracks)        bound       seconds');
    const result = await runSim({
      config: stringFlag(options, 'config') ?? DEFAULT_CONFIG, out: stringFlag(options, 'out') ?? path.join('outputs', 'sim'),
      ...(stages ? { stages } : {}), ...(threads ? { threads } : {}), ...(verbose ? { log: (l: string) => process.stderr.write(`${l}\n`) } : {}),
    }, (s: SimStage) => {
      if (json) return void process.stdout.write(`${JSON.stringify(s)}\n`);
      const agents = s.agents.map((a) => `${a.name} ${a.skipped ? 'skipped' : `${a.klQuantile.toExponential(1)}/${a.delta}/${a.beta.toPrecision(2)}/${a.backtracks}`}`).join(', ');
      say(`${String(s.stage).padStart(5)}  ${s.order.join('>').padEnd(5)}  ${s.reward.toFixed(3)}  ${pct(s.test_accuracy).padStart(7)}   ${agents.padEnd(58)}  ${s.certificate.lowerBound.toExponential(2).padStart(9)}  ${s.seconds.toFixed(1).padStart(6)}`);
    });
    const end = result.stages.at(-1)?.test_accuracy ?? NaN;
    if (json) process.stdout.write(`${JSON.stringify({ team: result.team, peers: result.peers, accuracy_start: result.accuracyStart, accuracy_end: end, seconds: result.seconds, stages: result.stages })}\n`);
    else say(`team ${result.team}: ${result.peers} peers, test accuracy ${pct(result.accuracyStart)} -> ${pct(end)} in ${result.stages.length} stages, ${result.seconds.toFixed(0)} s`);
  },
};
