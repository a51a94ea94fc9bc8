// `sat-peer status (--http <url> | --data-dir <dir>)`: what a running peer (or bootstrap) serves on its
// status page, in the terminal. With --data-dir it finds the peer's page from the file the peer keeps there
// while it runs; with no peer running, it says so and shows the stages logged there.
import fs from 'node:fs';
import { fetchStatus, statusUrl } from '../../ops/status-client.ts';
import { readStatusFile } from '../../ops/status-file.ts';
import { readStageRows, stagePoint } from '../../peer/stage-rows.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { printJson, stringFlag } from '../options.ts';
import { stageLines, statusLines } from '../status-text.ts';

const out = (lines: string[]) => void process.stdout.write(`${lines.join('\n')}\n`);

export const statusCommand: Command = {
  name: 'status',
  summary: "show a running peer's roster, stage, token, accuracy by stage and latest warnings",
  usage: 'sat-peer status (--http <url> | --data-dir <dir>) [--json]',
  args: [],
  options: {
    http: {
      type: 'string',
      value: '<url>',
      description: "the peer's status page, as `start --http` printed it (e.g. http://127.0.0.1:9100/)",
    },
    'data-dir': {
      type: 'string',
      value: '<dir>',
      description: "the peer's data dir: its page is found there, or else its stage log is shown",
    },
  },
  async run({ options, json }) {
    const http = stringFlag(options, 'http');
    const dataDir = stringFlag(options, 'data-dir');
    if ((http === undefined) === (dataDir === undefined))
      throw new UsageError('status needs one of --http <url> or --data-dir <dir>');
    let page: URL | undefined;
    if (http !== undefined) {
      page = statusUrl(http);
      if (!page) throw new UsageError(`--http must be a status page's URL like http://127.0.0.1:9100/, got '${http}'`);
    } else {
      if (!fs.existsSync(dataDir!)) throw new UsageError(`no data dir at ${dataDir}`);
      const running = readStatusFile(dataDir!);
      page = running && statusUrl(running.url);
    }
    // A page named in the data dir whose process no longer answers is taken for none.
    const snapshot = page && (await (dataDir ? fetchStatus(page).catch(() => undefined) : fetchStatus(page)));
    if (page && snapshot) {
      if (json) return printJson({ running: true, url: page.href, ...snapshot });
      return out(statusLines(snapshot, page.href));
    }
    const stages = readStageRows(dataDir!).map(stagePoint);
    if (json) return printJson({ running: false, dataDir, stages });
    out([`no peer is running in ${dataDir}; its stage log holds ${stages.length} stages`, '', ...stageLines(stages)]);
  },
};
