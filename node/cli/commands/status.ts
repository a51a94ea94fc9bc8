// `sat-peer status (--http <url> | --data-dir <dir>)`: what a running peer (or bootstrap) serves on its
// status page, in the terminal. With --data-dir it finds the peer's page from the file the peer keeps there
// while it runs; with no page there, it says whether a peer runs there (without --http) or none does, and shows
// the stages logged there.
import fs from 'node:fs';
import path from 'node:path';
import { fetchStatus, statusUrl } from '../../ops/status-client.ts';
import { readStatusFile } from '../../ops/status-file.ts';
import { dataDirHolder } from '../../peer/data-dir-lock.ts';
import { readStageRows, stagePoint } from '../../peer/stage-rows.ts';
import { IDENTITY_FILE } from '../../protocol/identity.ts';
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
    if (http !== undefined && dataDir !== undefined)
      throw new UsageError('give only one of --http <url> and --data-dir <dir>');
    if (http === undefined && dataDir === undefined)
      throw new UsageError('status needs one of --http <url> or --data-dir <dir>');
    if (http !== undefined) {
      const page = statusUrl(http);
      if (!page) throw new UsageError(`--http must be a status page's URL like http://127.0.0.1:9100/, got '${http}'`);
      const snapshot = await fetchStatus(page);
      if (json) return printJson({ running: true, url: page.href, ...snapshot });
      return out(statusLines(snapshot, page.href));
    }
    const dir = dataDir!;
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (!stat) throw new UsageError(`no data dir at ${dir}`);
    if (!stat.isDirectory()) throw new UsageError(`--data-dir ${dir} is not a folder: give the data dir of a peer`);
    // A page named in the data dir whose process no longer answers is taken for none.
    const running = readStatusFile(dir);
    const page = running && statusUrl(running.url);
    const snapshot = page && (await fetchStatus(page).catch(() => undefined));
    if (page && snapshot) {
      if (json) return printJson({ running: true, url: page.href, ...snapshot });
      return out(statusLines(snapshot, page.href));
    }
    const pid = dataDirHolder(dir);
    if (pid === undefined && !fs.existsSync(path.join(dir, IDENTITY_FILE)))
      throw new UsageError(
        `${dir} is no peer's data dir (it holds no ${IDENTITY_FILE}): give the data dir sat-peer start printed`,
      );
    const stages = readStageRows(dir).map(stagePoint);
    if (json) return printJson({ running: pid !== undefined, ...(pid !== undefined ? { pid } : {}), dataDir, stages });
    const logged = `its stage log holds ${stages.length} stage${stages.length === 1 ? '' : 's'}`;
    out([
      pid === undefined
        ? `no peer is running in ${dir}; ${logged}`
        : `a peer runs in ${dir} (pid ${pid}) without --http: start it with --http to see its live status; ${logged}`,
      '',
      ...stageLines(stages),
    ]);
  },
};
