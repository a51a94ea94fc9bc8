// DESIGN.md §2: imports flow one way, and one module per outside engine.
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
const importsOf = (text: string) => [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
const imports = (file: string) => importsOf(fs.readFileSync(file, 'utf8'));

const rel = (file: string) => path.relative(ROOT, file);
const resolves = (file: string, spec: string) => (spec.startsWith('.') ? rel(path.resolve(path.dirname(file), spec)) : spec);

const rules: [string, RegExp, string][] = [
  ['node/gpu/', /^(node\/(agent|protocol)\/|node\/[^/]+\.ts$|sim\/|bootstrap\/|@libp2p|libp2p)/, 'node/gpu knows nothing of SAT or the network'],
  ['node/agent/', /^(node\/protocol\/|node\/[^/]+\.ts$|sim\/|bootstrap\/|@libp2p|libp2p)/, 'node/agent knows nothing of the network'],
  ['node/protocol/', /^(node\/(agent|gpu)\/|onnxruntime)/, 'node/protocol knows nothing of models or ORT'],
];

test('the import scanner sees every form of import', (t) => {
  const text = "import a from 'a';\nimport {\n  b,\n  c,\n} from './b.ts';\nexport { d } from \"d\";\nimport 'side';\nconst e = await import('e');\nconst s = 'from x';";
  t.deepEqual(importsOf(text), ['a', './b.ts', 'd', 'side', 'e']);
});

test('imports respect the layer boundaries', (t) => {
  const bad: string[] = [];
  for (const [prefix, forbidden, why] of rules) {
    for (const file of sources(path.join(ROOT, prefix))) {
      for (const spec of imports(file)) {
        const target = resolves(file, spec);
        if (forbidden.test(target)) bad.push(`${rel(file)} imports ${spec}: ${why}`);
      }
    }
  }
  t.deepEqual(bad, []);
});

test('only node/gpu/ort.ts imports onnxruntime-node', (t) => {
  const files = [...sources(path.join(ROOT, 'node')), ...sources(path.join(ROOT, 'bench'))];
  const importers = files.filter((f) => imports(f).some((s) => s.startsWith('onnxruntime'))).map(rel);
  t.deepEqual(importers, ['node/gpu/ort.ts']);
});

test('only node/protocol/host.ts builds the libp2p host', (t) => {
  const files = ['node', 'bootstrap', 'sim'].flatMap((d) => sources(path.join(ROOT, d)));
  const importers = files.filter((f) => imports(f).includes('libp2p')).map(rel);
  t.deepEqual(importers, ['node/protocol/host.ts']);
});
