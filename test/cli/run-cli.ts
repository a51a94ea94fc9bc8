// What the CLI tests share: running the real bin, the reference fixture, and checking one-line errors.
import type { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../temp-dir.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const FIXTURE = path.join(ROOT, 'test/fixtures/qwen3-tiny-a');

/**
 * How long a command may run: it runs synchronously, so ava's own timeouts cannot fire meanwhile; a
 * command that hangs is stopped (SIGTERM) and fails its test instead of holding up the run.
 */
const COMMAND_TIMEOUT_MS = 20 * 60_000;

/** Runs `sat-peer ...args` to completion (stopped after COMMAND_TIMEOUT_MS). */
export function sat(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return satWithEnv({}, ...args);
}

/** `sat` with variables added to the environment (which the processes it starts inherit). */
export function satWithEnv(
  env: Record<string, string>,
  ...args: string[]
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/sat-peer.js', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: COMMAND_TIMEOUT_MS,
    killSignal: 'SIGTERM',
    maxBuffer: 64 * 2 ** 20, // a real-size `model score --json` prints the vocabulary's logits
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? `\n${r.error.message}` : '') };
}

/** stderr is exactly one `sat-peer: ...` line, without a stack trace. */
export function oneLine(t: ExecutionContext, stderr: string, message: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  t.is(lines.length, 1, stderr);
  t.regex(lines[0], /^sat-peer: /);
  t.regex(lines[0], message);
  t.notRegex(stderr, /\n\s+at /);
}

/** A copy of the fixture's weights with the tiny tokenizer beside them (same 512-id vocabulary). */
export function fixtureWithTokenizer(prefix: string): string {
  const dir = tempDir(prefix);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    fs.copyFileSync(path.join(ROOT, 'test/fixtures/tiny-tokenizer', f), path.join(dir, f));
  return dir;
}

/** The embedded demo team's folder (its weak and strong agents, its data). */
export const DEMO = path.join(ROOT, 'models/demo');

/**
 * A fresh folder (named from `prefix`) with the demo's training set, its first `heldOut` test
 * problems and a config `team.yaml` of `yaml` (whose data paths are train.jsonl and test.jsonl).
 */
export function demoTeamFolder(prefix: string, heldOut: number, yaml: string): { dir: string; config: string } {
  const dir = tempDir(prefix);
  fs.copyFileSync(path.join(DEMO, 'train.jsonl'), path.join(dir, 'train.jsonl'));
  fs.writeFileSync(
    path.join(dir, 'test.jsonl'),
    fs.readFileSync(path.join(DEMO, 'test.jsonl'), 'utf8').split('\n').slice(0, heldOut).join('\n'),
  );
  const config = path.join(dir, 'team.yaml');
  fs.writeFileSync(config, yaml);
  return { dir, config };
}

/**
 * models/demo/demo.yaml with its paths made absolute and its save_dir in a fresh temporary folder;
 * `edit` may change its text further.
 */
export function demoConfig(edit: (text: string) => string = (x) => x): string {
  const dir = tempDir('sat-demo-');
  const text = fs
    .readFileSync(path.join(DEMO, 'demo.yaml'), 'utf8')
    .replaceAll('./tiny-', `${DEMO}/tiny-`)
    .replace('train_path: train.jsonl', `train_path: ${DEMO}/train.jsonl`)
    .replace('test_path: test.jsonl', `test_path: ${DEMO}/test.jsonl`)
    .replace(/save_dir: \S+/, `save_dir: ${dir}/run`);
  fs.writeFileSync(path.join(dir, 'demo.yaml'), edit(text));
  return path.join(dir, 'demo.yaml');
}
