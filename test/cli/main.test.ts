// The `sat-peer` entry as a user meets it: a misspelled option is one line naming the command's nearest option,
// and the global --json says that a long-running command prints one event per line.
import test from 'ava';
import { oneLine, sat } from './run-cli.ts';

test('a misspelled option: one line, exit 2, with the nearest option of that command', (t) => {
  for (const [args, message] of [
    [['start', '--modle', 'x'], /^sat-peer: unknown option '--modle'; did you mean --model\? /],
    [['team', 'create', '--chek'], /unknown option '--chek'; did you mean --check\?/],
    [['status', '--data-dri', 'x'], /unknown option '--data-dri'; did you mean --data-dir\?/],
    [['status', '--jsno'], /unknown option '--jsno'; did you mean --json\?/],
    [['model', 'info', 'x', '--check'], /^sat-peer: unknown option '--check' \(see sat-peer --help\)$/],
    [['status', '--frobnicate'], /^sat-peer: unknown option '--frobnicate' \(see sat-peer --help\)$/],
  ] as const) {
    const r = sat(...args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    oneLine(t, r.stderr, message);
  }
});

test('the global --json: one object, or one event per line for a long-running command', (t) => {
  const r = sat('--help');
  t.is(r.code, 0, r.stderr);
  t.regex(
    r.stdout,
    /--json\s+print JSON instead of text \(one object; a long-running command prints one event per line\)/,
  );
});
