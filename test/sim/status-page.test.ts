// The operator's view of a live team: during a real `sat-peer sim`, a headless Chromium loads a peer's status
// page and sees the roster, a chart of the stages the sim ran and the page moving on as stages end;
// /metrics and `sat-peer status --http --json` answer from the same running peer.
import test from 'ava';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { ROOT } from '../cli/run-cli.ts';
import { tempDir } from '../temp-dir.ts';
import { smallTeam } from './small-team.ts';

const STAGES = 5;

/** Debian's Chromium, or the one CHROMIUM_PATH names (.ci/run installs it where missing). */
function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return '/usr/bin/chromium';
  }
}

test('a peer status page during a sim: roster, chart of the stages run, live updates; metrics; status --http', async (t) => {
  t.timeout(400_000);
  const { dir, config } = smallTeam(STAGES);
  const sim = spawn(
    process.execPath,
    ['bin/sat-peer.js', 'sim', '--config', config, '--out', path.join(dir, 'sim'), '--threads', '1', '--json'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  sim.stderr.on('data', (b) => {
    stderr += b;
  });
  const lines: Record<string, unknown>[] = [];
  const pages = new Map<number, string>();
  let pageSeen: () => void = () => {};
  const firstPage = new Promise<void>((resolve) => {
    pageSeen = resolve;
  });
  readline.createInterface({ input: sim.stdout }).on('line', (l) => {
    const event = JSON.parse(l) as Record<string, unknown>;
    lines.push(event);
    if (event.event === 'status_page') {
      pages.set(event.slot as number, event.url as string);
      if (event.slot === 0) pageSeen();
    }
  });
  const ended = new Promise<number | null>((resolve) => sim.once('exit', resolve));
  const browser = await chromium.launch({ executablePath: chromiumPath() });
  try {
    const before = await Promise.race([firstPage.then(() => true), ended.then(() => false)]);
    t.true(before, `the sim printed a peer's page before it ended: ${stderr}`);
    const url = pages.get(0)!;
    t.regex(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await browser.newPage();
    await page.goto(url);
    // The roster: both slots held, this peer's marked.
    // What the page shows, read in the browser (the page's own DOM, as the user sees it).
    const held =
      "[...document.querySelectorAll('#roster tbody tr.slot')].filter((r) => !r.classList.contains('vacant')).length";
    const doneNow = "Number(document.getElementById('done').textContent)";
    await page.waitForFunction(`${held} === 2`, undefined, { timeout: 120_000 });
    t.is(await page.locator('#roster tbody tr.self').count(), 1);
    const first = Number(await page.locator('#done').textContent());
    t.false(Number.isNaN(first));
    // The page moves on by itself as the team logs stages.
    await page.waitForFunction(`${doneNow} > ${first} && ${doneNow} >= 2`, undefined, { timeout: 180_000 });
    // The chart draws every stage logged so far, each at its accuracy.
    const drawn = (await page.evaluate(`({
      done: ${doneNow},
      stages: [...document.querySelectorAll('#chart circle.accuracy')].map((c) => Number(c.getAttribute('data-stage'))),
      titles: [...document.querySelectorAll('#chart circle.accuracy title')].map((c) => c.textContent),
      times: document.querySelectorAll('#times tbody tr').length,
    })`)) as { done: number; stages: number[]; titles: string[]; times: number };
    t.true(drawn.done > first && drawn.done >= 2, JSON.stringify(drawn));
    t.deepEqual(
      drawn.stages,
      Array.from({ length: drawn.done }, (_, i) => i + 1),
      JSON.stringify(drawn),
    );
    t.true(drawn.times >= 2, 'the time split of the last stages');
    const shot = path.join(tempDir('sat-status-shot-'), 'status.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = fs.readFileSync(shot);
    t.true(png.length > 5_000 && png.subarray(1, 4).toString() === 'PNG', `${png.length} bytes`);

    const metrics = await (await fetch(new URL('metrics', url))).text();
    const names = new Set([...metrics.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    for (const name of [
      'sat_stages_done',
      'sat_stage',
      'sat_test_accuracy',
      'sat_reward',
      'sat_bytes_total',
      'sat_rejected_messages_total',
      'sat_peers_connected',
      'sat_process_resident_memory_bytes',
    ])
      t.true(names.has(name), name);
    t.true([...names].every((n) => n.startsWith('sat_')));
    t.regex(metrics, /^sat_bytes_total\{protocol="\/meshsub\/[\d.]+",direction="out"\} [1-9]/m);

    const status = await promisify(execFile)(process.execPath, ['bin/sat-peer.js', 'status', '--http', url, '--json'], {
      cwd: ROOT,
    });
    const snapshot = JSON.parse(status.stdout);
    t.true(snapshot.running);
    t.is(snapshot.slot, 0);
    t.is(snapshot.roster.length, 2);
    t.true(snapshot.stagesDone >= 2);

    t.is(await ended, 0, stderr);
    const summary = lines.at(-1) as { stages: { stage: number; test_accuracy: number }[] };
    t.is(summary.stages.length, STAGES);
    t.deepEqual([...pages.keys()].sort(), [0, 1], 'every peer printed its page');
    // The chart's points are the stages the sim reported, at the accuracy it reported.
    for (const [i, stage] of drawn.stages.entries()) {
      const acc = summary.stages.find((s) => s.stage === stage)!.test_accuracy;
      t.true(drawn.titles[i]?.endsWith(acc.toFixed(3)), `${drawn.titles[i]} vs ${acc}`);
    }
  } finally {
    await browser.close();
    if (sim.exitCode === null) sim.kill('SIGTERM');
  }
});
