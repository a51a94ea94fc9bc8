// The documents a newcomer reads: the code's `docs/design §N` references resolve to headings of docs/design.md, and
// the prose speaks of the software, not of how it was made.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

function files(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, ext) : ext.test(e.name) ? [p] : [];
  });
}

const SOURCES = ['node', 'sim', 'bootstrap', 'bench', 'tools', 'test', 'bin'].flatMap((d) =>
  files(d, /\.(ts|js|mjs)$/),
);

/** The section numbers of docs/design.md's headings: '## 1. The algorithm' -> '1', '### 1.2 Rollout' -> '1.2'. */
function sectionNumbers(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.? /gm)].map((m) => m[1]));
}

test('every docs/design § reference in the code names a section of it', (t) => {
  const sections = sectionNumbers(read('docs/design.md'));
  const refs = SOURCES.flatMap((file) =>
    [...read(file).matchAll(/docs\/design §(\d+(?:\.\d+)*)/g)].map((m) => ({ file, section: m[1] })),
  );
  t.true(refs.length > 20, `${refs.length} references`);
  t.deepEqual(
    refs.filter((r) => !sections.has(r.section)).map((r) => `${r.file}: §${r.section}`),
    [],
  );
});

test('the section scanner reads numbered headings of every level', (t) => {
  t.deepEqual(
    [...sectionNumbers('# Title\n## 1. The algorithm\n### 1.2 Rollout\ntext §9\n## 2. Layout\n')],
    ['1', '1.2', '2'],
  );
});

test('README, docs and code speak of the software, not of its development', (t) => {
  const prose = ['README.md', ...files('docs', /\.md$/), ...SOURCES.filter((f) => !f.startsWith('test/'))];
  const history =
    /session [0-9]|(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth) session|issue [0-9]|DESIGN\.md|the intel machine|2-vcpu/i;
  const hits = prose.flatMap((file) =>
    read(file)
      .split('\n')
      .flatMap((line, i) => (history.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
  );
  t.deepEqual(hits, []);
});

test('README.md stays a user document of under 300 lines', (t) => {
  const lines = read('README.md').split('\n').length;
  t.true(lines < 300, `${lines} lines`);
});

test('the README lists every protocol id and gossip topic a peer speaks', (t) => {
  const code = files('node', /\.ts$/).map(read).join('\n');
  const ids = new Set([
    ...[...code.matchAll(/'(\/sat\/[a-z0-9./-]+)'/g)].map((m) => m[1]),
    ...[...code.matchAll(/`sat\/\$\{team\}\/([a-z-]+)`/g)].map((m) => `sat/<team>/${m[1]}`),
  ]);
  t.true(ids.size >= 9, [...ids].join(', '));
  const readme = read('README.md');
  for (const id of ids) t.true(readme.includes(`\`${id}\``), `${id} is in the README`);
});

test("the bootstrap's address is read from the first line of its --json output, which goes on with events", (t) => {
  for (const file of ['README.md', ...files('docs', /\.md$/)]) {
    const text = read(file);
    for (const [, out] of text.matchAll(/sat-bootstrap [^\n]*--json[^\n]*\| tee (\S+)/g)) {
      t.false(text.includes(`require('./${out}')`), `${file} reads all of ${out} as one JSON value`);
      t.true(text.includes(`head -1 ${out}`), `${file} reads the first line of ${out}`);
    }
  }
});
