// Parquet files, as Hugging Face publishes data sets (snappy, gzip, zstd, brotli or lz4, or uncompressed), read
// whole with hyparquet (and hyparquet-compressors' codecs) into one object a row, keyed by column name.
import fs from 'node:fs';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { InputError } from '../agent/errors.ts';

/** The 4 bytes a Parquet file starts (and ends) with. */
const MAGIC = 'PAR1';

/** Whether the file starts as a Parquet file does. */
export function isParquet(file: string): boolean {
  const head = Buffer.alloc(MAGIC.length);
  const fd = fs.openSync(file, 'r');
  try {
    return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.toString('latin1') === MAGIC;
  } finally {
    fs.closeSync(fd);
  }
}

/** Every row of a Parquet file; one that cannot be read (truncated, corrupt, an unsupported codec) is an InputError. */
export async function readParquetRows(file: string): Promise<Record<string, unknown>[]> {
  try {
    return await parquetReadObjects({ file: await asyncBufferFromFile(file), compressors });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new InputError(`dataset ${file} is not a readable Parquet file (${message})`);
  }
}
