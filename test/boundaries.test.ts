// docs/design §2: imports flow one way, and one module per outside engine.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

function sources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

// Static imports and re-exports (their braces may span lines), side-effect imports, dynamic imports.
const importsOf = (text: string) =>
  [
    ...text.matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? m[3]);
const imports = (file: string) => importsOf(fs.readFileSync(file, 'utf8'));

const rel = (file: string) => path.relative(ROOT, file);
const resolves = (file: string, spec: string) =>
  spec.startsWith('.') ? rel(path.resolve(path.dirname(file), spec)) : spec;

/** What each folder of node/ may import from node/ besides itself (docs/design §2). */
const MAY_IMPORT: Record<string, { may: string[]; why: string }> = {
  util: { may: [], why: 'node/util is plain helpers' },
  gpu: { may: ['util'], why: 'node/gpu knows nothing of models, SAT or the network' },
  ops: {
    may: ['util'],
    why: "the operator's view serves a snapshot source: it knows nothing of SAT, models or the network",
  },
  protocol: { may: ['util'], why: 'node/protocol knows nothing of models or onnxruntime' },
  agent: {
    may: ['gpu', 'util'],
    why: 'an agent (model, trainer, learner) knows nothing of tasks, teams or the network',
  },
  config: { may: ['agent', 'util'], why: 'the config knows nothing of teams or the network' },
  tasks: { may: ['agent', 'gpu', 'util'], why: 'tasks know nothing of teams or the network' },
  sat: { may: ['agent', 'config', 'gpu', 'tasks', 'util'], why: "SAT's stage knows nothing of the network" },
  peer: {
    may: ['agent', 'config', 'gpu', 'ops', 'protocol', 'sat', 'tasks', 'util'],
    why: 'the peer is no command',
  },
  cli: {
    may: ['agent', 'config', 'gpu', 'ops', 'peer', 'protocol', 'sat', 'tasks', 'util'],
    why: 'the CLI may use any of node/',
  },
};
/** Outside node/: nothing in node/ imports these (they use node/, not the other way). */
const OUTSIDE = /^(sim|bench|tools|bootstrap|test|bin)\//;
/** Only the network's folders import libp2p. */
const LIBP2P = /^(@libp2p|libp2p$|@chainsafe)/;
const NETWORK = new Set(['protocol', 'peer', 'cli']);

/** Why importing `target` from node/<folder>/ breaks the layout, or undefined when it is allowed. */
function violation(folder: string, target: string): string | undefined {
  const rule = MAY_IMPORT[folder];
  if (OUTSIDE.test(target)) return 'node/ never imports sim/, bench/, tools/, bootstrap/ or test/';
  if (LIBP2P.test(target) && !NETWORK.has(folder)) return rule.why;
  const m = /^node\/([^/]+)\//.exec(target);
  if (m && m[1] !== folder && !rule.may.includes(m[1])) return rule.why;
  return undefined;
}

test('the import scanner sees every form of import', (t) => {
  const text =
    "import a from 'a';\nimport {\n  b,\n  c,\n} from './b.ts';\nexport { d } from \"d\";\nimport 'side';\nconst " +
    "e = await import('e');\nconst s = 'from x';";
  t.deepEqual(importsOf(text), ['a', './b.ts', 'd', 'side', 'e']);
});

test('node/ holds folders only, each with its rule', (t) => {
  const entries = fs.readdirSync(path.join(ROOT, 'node'), { withFileTypes: true });
  t.deepEqual(
    entries.filter((e) => !e.isDirectory()).map((e) => e.name),
    [],
  );
  t.deepEqual(entries.map((e) => e.name).sort(), Object.keys(MAY_IMPORT).sort());
});

test('imports respect the layer boundaries', (t) => {
  const bad: string[] = [];
  for (const folder of Object.keys(MAY_IMPORT)) {
    for (const file of sources(path.join(ROOT, 'node', folder))) {
      for (const spec of imports(file)) {
        const why = violation(folder, resolves(file, spec));
        if (why) bad.push(`${rel(file)} imports ${spec}: ${why}`);
      }
    }
  }
  t.deepEqual(bad, []);
});

test('the rules catch what they forbid', (t) => {
  t.truthy(violation('cli', 'sim/run.ts'));
  t.truthy(violation('agent', 'node/sat/stage.ts'));
  t.truthy(violation('agent', 'node/tasks/chain.ts'));
  t.truthy(violation('sat', 'node/protocol/host.ts'));
  t.truthy(violation('sat', '@libp2p/interface'));
  t.truthy(violation('protocol', 'node/agent/agent.ts'));
  t.truthy(violation('gpu', 'node/agent/model/qwen3.ts'));
  t.truthy(violation('ops', 'node/peer/peer.ts'));
  t.truthy(violation('ops', 'node/sat/evaluate.ts'));
  t.truthy(violation('ops', '@libp2p/interface'));
  t.truthy(violation('protocol', 'node/ops/status-server.ts'));
  t.is(violation('peer', 'node/ops/status-snapshot.ts'), undefined);
  t.is(violation('peer', 'node/protocol/host.ts'), undefined);
  t.is(violation('tasks', 'node/agent/model/generate.ts'), undefined);
});

test('only node/gpu/ort.ts imports onnxruntime-node', (t) => {
  const files = [...sources(path.join(ROOT, 'node')), ...sources(path.join(ROOT, 'bench'))];
  const importers = files.filter((f) => imports(f).some((s) => s.startsWith('onnxruntime'))).map(rel);
  t.deepEqual(importers, ['node/gpu/ort.ts']);
});

test('only node/ops/metrics.ts imports prom-client', (t) => {
  const files = ['node', 'bootstrap', 'sim'].flatMap((d) => sources(path.join(ROOT, d)));
  const importers = files.filter((f) => imports(f).some((s) => s.startsWith('prom-client'))).map(rel);
  t.deepEqual(importers, ['node/ops/metrics.ts']);
});

test('only node/tasks/parquet.ts imports hyparquet', (t) => {
  const importers = sources(path.join(ROOT, 'node'))
    .filter((f) => imports(f).some((s) => s.startsWith('hyparquet')))
    .map(rel);
  t.deepEqual(importers, ['node/tasks/parquet.ts']);
});

test('only node/tasks/latex-value.ts imports the LaTeX engine', (t) => {
  const importers = sources(path.join(ROOT, 'node'))
    .filter((f) => imports(f).some((s) => s.startsWith('@cortex-js/compute-engine')))
    .map(rel);
  t.deepEqual(importers, ['node/tasks/latex-value.ts']);
});

test('only node/protocol/host.ts builds the libp2p host', (t) => {
  const files = ['node', 'bootstrap', 'sim'].flatMap((d) => sources(path.join(ROOT, d)));
  const importers = files.filter((f) => imports(f).includes('libp2p')).map(rel);
  t.deepEqual(importers, ['node/protocol/host.ts']);
});

test('no source line is over 140 columns (the formatter wraps code at 120; comments and strings by hand)', (t) => {
  const files = ['node', 'sim', 'bootstrap', 'bench', 'tools', 'test', 'bin'].flatMap((d) =>
    sources(path.join(ROOT, d)),
  );
  const long = files
    .filter((f) => !f.endsWith('.generated.ts'))
    .flatMap((f) =>
      fs
        .readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (line.length > 140 ? [`${rel(f)}:${i + 1} (${line.length})`] : [])),
    );
  t.true(files.length > 100, `${files.length} files`);
  t.deepEqual(long, []);
});
