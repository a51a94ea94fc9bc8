// Parquet problem sets: the fixtures read like their JSONL twins (snappy, gzip and uncompressed, 64-bit
// integer answers), rows numbered from 1, and a file that is not (or no longer) Parquet refused in one
// InputError.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { loadDataset } from '../../node/tasks/dataset.ts';
import { isParquet, readParquetRows } from '../../node/tasks/parquet.ts';
import { InputError } from '../../node/agent/errors.ts';
import { tempDir } from '../temp-dir.ts';

const FIXTURES = new URL('../fixtures/datasets/', import.meta.url).pathname;
const fixture = (name: string) => path.join(FIXTURES, name);

/** A temp file of `bytes` named `name`. */
function file(name: string, bytes: Uint8Array | string): string {
  const f = path.join(tempDir('sat-parquet-'), name);
  fs.writeFileSync(f, bytes);
  return f;
}

const codecs = async (f: string) =>
  (await parquetMetadataAsync(await asyncBufferFromFile(f))).row_groups.flatMap((g) =>
    g.columns.map((c) => c.meta_data?.codec),
  );

test('the Parquet fixtures are snappy-, gzip- and uncompressed, as published sets are', async (t) => {
  t.deepEqual(await codecs(fixture('gsm8k.parquet')), ['SNAPPY', 'SNAPPY']);
  t.deepEqual(await codecs(fixture('aime.parquet')), ['SNAPPY', 'SNAPPY', 'SNAPPY']);
  t.deepEqual(await codecs(fixture('math.parquet')), Array(4).fill('UNCOMPRESSED'));
  t.true((await codecs(fixture('math500.parquet'))).every((c) => c === 'GZIP'));
  t.is(typeof (await readParquetRows(fixture('aime.parquet')))[0].answer, 'bigint', 'AIME answers are INT64');
});

test('each Parquet fixture reads as its JSONL twin, ids <basename>:<row> where the rows have none', async (t) => {
  for (const name of ['gsm8k', 'math', 'aime', 'math500']) {
    const fromJsonl = await loadDataset(fixture(`${name}.jsonl`));
    const fromParquet = await loadDataset(fixture(`${name}.parquet`), name);
    t.deepEqual(
      fromParquet,
      fromJsonl.map((p, i) => ({ ...p, id: p.id.replace(`${name}.jsonl:${i + 1}`, `${name}.parquet:${i + 1}`) })),
      name,
    );
    t.deepEqual(await loadDataset(fixture(`${name}.parquet`)), fromParquet, `${name}, detected`);
  }
  const gsm8k = await loadDataset(fixture('gsm8k.parquet'));
  t.deepEqual(
    gsm8k.map((p) => [p.id, p.answer]),
    [
      ['gsm8k.parquet:1', '72'],
      ['gsm8k.parquet:2', '10'],
      ['gsm8k.parquet:3', '1,234'],
    ],
  );
  t.deepEqual(
    (await loadDataset(fixture('aime.parquet'))).map((p) => p.answer),
    ['204', '25', '33'],
  );
});

test('Parquet is known by its first bytes, whatever the name', async (t) => {
  const renamed = file('train.data', fs.readFileSync(fixture('math.parquet')));
  t.true(isParquet(renamed));
  t.false(isParquet(fixture('math.jsonl')));
  t.deepEqual(
    (await loadDataset(renamed)).map((p) => [p.id, p.answer]),
    [
      ['train.data:1', '11'],
      ['train.data:2', '\\frac{1}{2}'],
      ['train.data:3', '\\{-1, 2\\}'],
    ],
  );
});

test('rows that fit no layout, or not the named one, are refused by row number', async (t) => {
  const f = fixture('aime.parquet');
  await t.throwsAsync(() => loadDataset(f, 'gsm8k'), {
    instanceOf: InputError,
    message:
      `${f}: row 1: "question" must be a non-empty string; the row has fields {id, problem, answer}, ` +
      'read as the gsm8k layout (question, answer) named by dataset.type',
  });
});

test('a truncated or corrupt Parquet file is one InputError naming the file', async (t) => {
  const whole = fs.readFileSync(fixture('gsm8k.parquet'));
  const broken: [string, Uint8Array][] = [
    ['half', whole.subarray(0, whole.length >> 1)],
    ['no footer', whole.subarray(0, whole.length - 4)],
    ['magic only', Buffer.from('PAR1')],
    ['pages overwritten', Buffer.concat([whole.subarray(0, 8), Buffer.alloc(300, 0xff), whole.subarray(308)])],
    [
      'metadata overwritten',
      Buffer.concat([whole.subarray(0, whole.length - 60), Buffer.alloc(52, 0x41), whole.subarray(whole.length - 8)]),
    ],
  ];
  for (const [what, bytes] of broken) {
    const f = file('train.parquet', bytes);
    const e = await t.throwsAsync(() => loadDataset(f), { instanceOf: InputError }, what);
    t.true(e.message.startsWith(`dataset ${f} is not a readable Parquet file (`), e.message);
    t.false(e.message.includes('\n'), 'one line, no stack');
  }
});

test('a .parquet file that is not Parquet, an empty one, and a file of neither format are InputErrors', async (t) => {
  const jsonlNamedParquet = file('train.parquet', '{"prompt": "p", "answer": "1"}\n');
  await t.throwsAsync(() => loadDataset(jsonlNamedParquet), {
    instanceOf: InputError,
    message: `dataset ${jsonlNamedParquet} is not a Parquet file: it does not start with "PAR1"`,
  });
  const empty = file('train.parquet', '');
  await t.throwsAsync(() => loadDataset(empty), {
    instanceOf: InputError,
    message: `dataset ${empty} holds no problems`,
  });
  const csv = file('train.csv', 'question,answer\n"1 + 1?",2\n');
  await t.throwsAsync(() => loadDataset(csv), {
    instanceOf: InputError,
    message: `dataset ${csv} is neither JSONL (one JSON object a line, named .jsonl or .json) nor Parquet (starting with PAR1)`,
  });
  const unnamed = file('train', '{"prompt": "p", "answer": "1"}\n');
  t.deepEqual(await loadDataset(unnamed), [{ id: 'train:1', prompt: 'p', answer: '1' }], 'JSON lines by content');
  await t.throwsAsync(() => loadDataset(path.dirname(unnamed)), { instanceOf: InputError, message: /is not a file$/ });
});
