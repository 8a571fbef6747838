/**
 * Streaming import and export of collections: JSON Lines, a JSON array, CSV.
 *
 * Import reads chunks, splits them into records without holding the whole file, parses each
 * record as Extended JSON (relaxed), and inserts in batches. CSV: the first row names the
 * fields; a cell that looks like a number, true/false, null or an Extended JSON object/array is
 * typed back, an empty cell is omitted. Errors name the record (line or element number).
 */
import { EJSON } from 'bson';
import { LargetableError } from '../errors.ts';
import { documentSizeBytesMax } from '../limits.ts';
import type { CollectionLike, Doc } from '../server/engine.ts';
import type { ByteSink } from './main.ts';

export type ImportFormat = 'jsonl' | 'json' | 'csv';

function parseRecord(text: string, where: string): Doc {
  let v: unknown;
  try {
    v = EJSON.parse(text, { relaxed: true });
  } catch (err) {
    throw new LargetableError('INVALID_ARGUMENT', `${where}: not valid JSON/Extended JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LargetableError('INVALID_ARGUMENT', `${where}: expected a JSON object`);
  return v as Doc;
}

/** JSON Lines: one record per non-blank line. */
async function* jsonLines(chunks: AsyncIterable<string>): AsyncGenerator<[string, string]> {
  let buf = '';
  let line = 0;
  for await (const chunk of chunks) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      line++;
      const text = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (text) yield [text, `line ${line}`];
    }
    if (buf.length > documentSizeBytesMax * 2) throw new LargetableError('LIMIT_EXCEEDED', `line ${line + 1}: longer than ${documentSizeBytesMax * 2} characters`);
  }
  if (buf.trim()) yield [buf.trim(), `line ${line + 1}`];
}

/** Elements of one top-level JSON array, found by tracking depth and strings. */
async function* jsonArray(chunks: AsyncIterable<string>): AsyncGenerator<[string, string]> {
  let started = false;
  let depth = 0;
  let inString = false;
  let escape = false;
  let cur = '';
  let n = 0;
  let ended = false;
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (ended) {
        if (!/\s/.test(ch)) throw new LargetableError('INVALID_ARGUMENT', `unexpected ${JSON.stringify(ch)} after the closing ]`);
        continue;
      }
      if (!started) {
        if (/\s/.test(ch) || ch === '\ufeff') continue;
        if (ch !== '[') throw new LargetableError('INVALID_ARGUMENT', 'a JSON array file must start with [');
        started = true;
        continue;
      }
      if (inString) {
        cur += ch;
        if (escape) escape = false;
        else if (ch === '\\') escape = true;
        else if (ch === '"') inString = false;
        continue;
      }
      if (ch === '"') {
        inString = true;
        cur += ch;
      } else if (ch === '{' || ch === '[') {
        depth++;
        cur += ch;
      } else if (ch === '}' || ch === ']') {
        if (depth === 0) {
          if (ch === ']') {
            if (cur.trim()) yield [cur.trim(), `element ${n++}`];
            cur = '';
            ended = true;
            continue;
          }
          throw new LargetableError('INVALID_ARGUMENT', `element ${n}: unbalanced }`);
        }
        depth--;
        cur += ch;
      } else if (ch === ',' && depth === 0) {
        if (!cur.trim()) throw new LargetableError('INVALID_ARGUMENT', `element ${n}: empty element`);
        yield [cur.trim(), `element ${n++}`];
        cur = '';
      } else {
        cur += ch;
      }
      if (cur.length > documentSizeBytesMax * 2) throw new LargetableError('LIMIT_EXCEEDED', `element ${n}: larger than ${documentSizeBytesMax * 2} characters`);
    }
  }
  if (!started || !ended) throw new LargetableError('INVALID_ARGUMENT', 'truncated JSON array (no closing ])');
}

/** RFC 4180 rows (quoted fields, "" escapes, CRLF or LF). */
async function* csvRows(chunks: AsyncIterable<string>): AsyncGenerator<string[]> {
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let any = false;
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (quoted) {
        if (ch === '"') {
          quoted = false;
          afterQuote = true;
        } else field += ch;
        continue;
      }
      if (ch === '"') {
        if (afterQuote) field += '"';
        quoted = true;
        afterQuote = false;
        any = true;
        continue;
      }
      afterQuote = false;
      if (ch === ',') {
        row.push(field);
        field = '';
        any = true;
      } else if (ch === '\n') {
        row.push(field);
        if (any || row.length > 1 || row[0] !== '') yield row;
        row = [];
        field = '';
        any = false;
      } else if (ch === '\r') {
        continue;
      } else {
        field += ch;
        any = true;
      }
      if (field.length > documentSizeBytesMax) throw new LargetableError('LIMIT_EXCEEDED', `CSV field larger than ${documentSizeBytesMax} characters`);
    }
  }
  if (quoted) throw new LargetableError('INVALID_ARGUMENT', 'CSV ends inside a quoted field');
  if (any || field !== '' || row.length) {
    row.push(field);
    yield row;
  }
}

function csvValue(cell: string): unknown {
  if (cell === '') return undefined;
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(cell)) {
    const n = Number(cell);
    if (Number.isFinite(n) && (Number.isSafeInteger(n) || !/^-?\d+$/.test(cell))) return n;
  }
  if (cell === 'true') return true;
  if (cell === 'false') return false;
  if (cell === 'null') return null;
  if (cell.startsWith('{') || cell.startsWith('[')) {
    try {
      return EJSON.parse(cell, { relaxed: true });
    } catch {
      return cell;
    }
  }
  return cell;
}

async function* decode(chunks: AsyncIterable<Uint8Array>, onBytes?: (n: number) => void): AsyncGenerator<string> {
  const dec = new TextDecoder('utf-8', { fatal: true });
  let total = 0;
  for await (const c of chunks) {
    total += c.length;
    onBytes?.(total);
    try {
      yield dec.decode(c, { stream: true });
    } catch (err) {
      throw new LargetableError('INVALID_ARGUMENT', `input is not valid UTF-8 near byte ${total}`, { cause: err });
    }
  }
  yield dec.decode();
}

async function* records(chunks: AsyncIterable<Uint8Array>, format: ImportFormat, onBytes?: (n: number) => void): AsyncGenerator<Doc> {
  const text = decode(chunks, onBytes);
  if (format === 'jsonl') for await (const [t, where] of jsonLines(text)) yield parseRecord(t, where);
  else if (format === 'json') for await (const [t, where] of jsonArray(text)) yield parseRecord(t, where);
  else {
    let header: string[] | undefined;
    let line = 0;
    for await (const row of csvRows(text)) {
      line++;
      if (!header) {
        header = row.map((h) => h.trim());
        if (header.some((h) => h === '')) throw new LargetableError('INVALID_ARGUMENT', 'CSV header has an empty column name');
        continue;
      }
      if (row.length > header.length) throw new LargetableError('INVALID_ARGUMENT', `CSV line ${line}: ${row.length} fields, header has ${header.length}`);
      const doc: Doc = {};
      row.forEach((cell, i) => {
        const v = csvValue(cell);
        if (v !== undefined) doc[header![i]!] = v;
      });
      yield doc;
    }
  }
}

/** Insert every record of `chunks` into `col`; returns the number inserted. */
export async function importCollection(
  col: CollectionLike,
  chunks: AsyncIterable<Uint8Array>,
  format: ImportFormat,
  options: { batchSize?: number; onBytes?: (n: number) => void } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 1000;
  let batch: Doc[] = [];
  let n = 0;
  for await (const doc of records(chunks, format, options.onBytes)) {
    batch.push(doc);
    if (batch.length >= batchSize) {
      await col.insertMany(batch);
      n += batch.length;
      batch = [];
    }
  }
  if (batch.length) {
    await col.insertMany(batch);
    n += batch.length;
  }
  return n;
}

function csvCell(v: unknown): string {
  if (v === undefined) return '';
  const s = v === null ? 'null' : typeof v === 'object' ? EJSON.stringify(v as Doc, { relaxed: true }) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Write every document matching `filter` to `sink`; returns the count. */
export async function exportCollection(
  col: CollectionLike,
  sink: ByteSink,
  format: ImportFormat,
  options: { filter?: Doc; fields?: string[] } = {},
): Promise<number> {
  const cursor = col.find(options.filter ?? {});
  let n = 0;
  try {
    if (format === 'csv') {
      // Columns: --fields, else the union of the first 1000 documents' top-level keys.
      const head: Doc[] = [];
      let fields = options.fields;
      if (!fields) {
        const seen = new Set<string>();
        for (let d = await cursor.next(); d; d = head.length < 1000 ? await cursor.next() : null) {
          head.push(d);
          for (const k of Object.keys(d)) seen.add(k);
        }
        fields = [...seen];
      }
      await sink.write(fields.map(csvCell).join(',') + '\n');
      const row = (d: Doc): string => fields!.map((f) => csvCell(d[f])).join(',') + '\n';
      for (const d of head) {
        await sink.write(row(d));
        n++;
      }
      if (head.length < 1000 && options.fields === undefined) return n;
      for (let d = await cursor.next(); d; d = await cursor.next()) {
        await sink.write(row(d));
        n++;
      }
      return n;
    }
    if (format === 'json') await sink.write('[');
    for (let d = await cursor.next(); d; d = await cursor.next()) {
      const text = EJSON.stringify(d, { relaxed: false });
      await sink.write(format === 'json' ? (n ? ',\n' : '\n') + text : text + '\n');
      n++;
    }
    if (format === 'json') await sink.write(n ? '\n]\n' : ']\n');
    return n;
  } finally {
    await cursor.close().catch(() => {});
  }
}
