/**
 * MongoDB wire protocol codec (runtime-free, Uint8Array in and out).
 *
 * Message header (all little-endian int32): messageLength, requestID, responseTo, opCode.
 *   OP_MSG (2013):   flagBits u32, sections..., [crc32c u32 if flagBits & 1]
 *                    section kind 0: one BSON body; kind 1: int32 size, cstring identifier, BSON docs
 *   OP_QUERY (2004): flags i32, fullCollectionName cstring, numberToSkip, numberToReturn, query BSON, [fields]
 *   OP_REPLY (1):    responseFlags i32, cursorID i64, startingFrom i32, numberReturned i32, documents
 *
 * `Framer` splits a byte stream into whole messages and rejects lengths outside
 * [16 + 5, wireMessageBytesMax] before buffering them. Every decode error is a LargetableError
 * (INVALID_ARGUMENT or LIMIT_EXCEEDED); the socket glue answers it and closes that connection.
 */
import { BSON } from 'bson';
import { LargetableError } from '../errors.ts';
import { wireMessageBytesMax } from '../limits.ts';
import { kernels } from '../kernel/index.ts';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

export const MSG_CHECKSUM_PRESENT = 1;
export const MSG_MORE_TO_COME = 2;
export const MSG_EXHAUST_ALLOWED = 1 << 16;

const headerBytes = 16;
const messageBytesMin = headerBytes + 5;

export type Doc = Record<string, unknown>;

export interface OpMsgRequest {
  op: 'msg';
  requestId: number;
  flags: number;
  /** The kind-0 body with kind-1 sequences merged in as arrays under their identifiers. */
  command: Doc;
}

export interface OpQueryRequest {
  op: 'query';
  requestId: number;
  /** "db.$cmd" for commands. */
  collection: string;
  command: Doc;
}

export type WireRequest = OpMsgRequest | OpQueryRequest;

const deserializeOptions = { promoteLongs: true, promoteValues: true, promoteBuffers: false, validation: { utf8: true } } as const;

function malformed(message: string, cause?: unknown): LargetableError {
  return new LargetableError('INVALID_ARGUMENT', `malformed wire message: ${message}`, cause === undefined ? {} : { cause });
}

/** Accumulates socket chunks and yields complete messages. */
export class Framer {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly maxBytes: number;

  constructor(maxBytes = wireMessageBytesMax) {
    this.maxBytes = maxBytes;
  }

  /** Append a chunk; returns the messages it completed. Throws on an impossible length. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const len = new DataView(head.buffer, head.byteOffset, 4).getInt32(0, true);
      if (len < messageBytesMin) throw malformed(`messageLength ${len} is smaller than ${messageBytesMin}`);
      if (len > this.maxBytes) throw new LargetableError('LIMIT_EXCEEDED', `wire message of ${len} bytes exceeds ${this.maxBytes}`);
      if (this.buffered < len) break;
      out.push(this.take(len));
    }
    return out;
  }

  /** Bytes buffered for an incomplete message. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    this.chunks = [concat(this.chunks, this.buffered)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    let msg: Uint8Array;
    if (first.length >= n) {
      msg = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = concat(this.chunks, this.buffered);
      msg = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return msg;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function readCString(bytes: Uint8Array, start: number, end: number, what: string): [string, number] {
  let i = start;
  while (i < end && bytes[i] !== 0) i++;
  if (i >= end) throw malformed(`${what} is not NUL-terminated`);
  try {
    return [new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, i)), i + 1];
  } catch (err) {
    throw malformed(`${what} is not valid UTF-8`, err);
  }
}

function readDoc(bytes: Uint8Array, at: number, end: number, what: string): [Doc, number] {
  if (at + 5 > end) throw malformed(`${what} is truncated`);
  const len = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getInt32(0, true);
  if (len < 5 || at + len > end) throw malformed(`${what} has length ${len}, ${end - at} bytes available`);
  try {
    return [BSON.deserialize(bytes.subarray(at, at + len), deserializeOptions) as Doc, at + len];
  } catch (err) {
    throw malformed(`${what} is not valid BSON: ${(err as Error).message}`, err);
  }
}

/** The requestID of a framed message (for answering even when the rest fails to decode). */
export function requestIdOf(msg: Uint8Array): number {
  return new DataView(msg.buffer, msg.byteOffset, msg.length).getInt32(4, true);
}

/** Decode one framed message. */
export function decodeMessage(msg: Uint8Array): WireRequest {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.length);
  if (msg.length < messageBytesMin) throw malformed('shorter than a header');
  const len = view.getInt32(0, true);
  if (len !== msg.length) throw malformed(`messageLength ${len} does not match ${msg.length} bytes`);
  const requestId = view.getInt32(4, true);
  const opCode = view.getInt32(12, true);
  if (opCode === OP_MSG) {
    const flags = view.getUint32(16, true);
    if ((flags & 0xffff) & ~(MSG_CHECKSUM_PRESENT | MSG_MORE_TO_COME)) throw malformed(`unknown required flag bits 0x${flags.toString(16)}`);
    let end = msg.length;
    if (flags & MSG_CHECKSUM_PRESENT) {
      end -= 4;
      if (end < 21) throw malformed('checksum flag set but no room for a checksum');
      const want = view.getUint32(end, true);
      const got = kernels().crc32c(msg.subarray(0, end));
      if (want !== got) throw malformed(`checksum mismatch (0x${want.toString(16)} != 0x${got.toString(16)})`);
    }
    let at = 20;
    let body: Doc | undefined;
    const sequences: [string, Doc[]][] = [];
    while (at < end) {
      const kind = msg[at++];
      if (kind === 0) {
        if (body) throw malformed('more than one kind-0 section');
        [body, at] = readDoc(msg, at, end, 'OP_MSG body');
      } else if (kind === 1) {
        if (at + 4 > end) throw malformed('document sequence truncated');
        const size = view.getInt32(at, true);
        const seqEnd = at + size;
        if (size < 5 || seqEnd > end) throw malformed(`document sequence size ${size} out of range`);
        const [id, p0] = readCString(msg, at + 4, seqEnd, 'sequence identifier');
        const docs: Doc[] = [];
        let p = p0;
        while (p < seqEnd) {
          let d: Doc;
          [d, p] = readDoc(msg, p, seqEnd, `document ${docs.length} of sequence ${id}`);
          docs.push(d);
        }
        sequences.push([id, docs]);
        at = seqEnd;
      } else {
        throw malformed(`unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw malformed('OP_MSG without a body section');
    for (const [id, docs] of sequences) {
      if (id in body) throw malformed(`sequence ${id} duplicates a body field`);
      body[id] = docs;
    }
    return { op: 'msg', requestId, flags, command: body };
  }
  if (opCode === OP_QUERY) {
    const [collection, at] = readCString(msg, 20, msg.length, 'fullCollectionName');
    if (at + 8 > msg.length) throw malformed('OP_QUERY truncated');
    const [command] = readDoc(msg, at + 8, msg.length, 'OP_QUERY query');
    return { op: 'query', requestId, collection, command };
  }
  if (opCode === OP_COMPRESSED) throw new LargetableError('NOT_SUPPORTED', 'OP_COMPRESSED is not supported (no compressors are advertised)');
  throw malformed(`unsupported opCode ${opCode}`);
}

let nextRequestId = 1;

/** Little-endian int32 at `o` (no DataView per call: replies are small and many). */
function i32(out: Uint8Array, o: number, v: number): void {
  out[o] = v & 0xff;
  out[o + 1] = (v >>> 8) & 0xff;
  out[o + 2] = (v >>> 16) & 0xff;
  out[o + 3] = (v >>> 24) & 0xff;
}

function header(out: Uint8Array, length: number, responseTo: number, opCode: number): void {
  i32(out, 0, length);
  i32(out, 4, nextRequestId++ & 0x7fffffff);
  i32(out, 8, responseTo);
  i32(out, 12, opCode);
}

/** Where an OP_MSG reply's kind-0 body starts: header (16), flagBits (4), section kind (1). */
export const opMsgBodyOffset = 21;

/**
 * Frames an OP_MSG reply in place: `frame` holds the body BSON from `opMsgBodyOffset` on and
 * nothing before it (a buffer built with that room, see `encodeExhaustedCursorReply`); writes the
 * header, flagBits and section kind and returns `frame` (no copy of the body).
 */
export function frameOpMsg(responseTo: number, frame: Uint8Array, flags = 0): Uint8Array {
  header(frame, frame.length, responseTo, OP_MSG);
  i32(frame, 16, flags);
  frame[20] = 0;
  return frame;
}

/** OP_MSG reply with one kind-0 body. */
export function encodeOpMsg(responseTo: number, doc: Doc, flags = 0): Uint8Array {
  return encodeOpMsgBody(responseTo, BSON.serialize(doc), flags);
}

/** OP_MSG reply whose kind-0 body is already BSON. */
export function encodeOpMsgBody(responseTo: number, body: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(opMsgBodyOffset + body.length);
  out.set(body, opMsgBodyOffset);
  return frameOpMsg(responseTo, out, flags);
}

const utf8 = new TextEncoder();

/** Writes a BSON element head (type byte, ASCII name, NUL) at `o`; returns the next offset. */
function elementHead(out: Uint8Array, o: number, type: number, name: string): number {
  out[o++] = type;
  for (let i = 0; i < name.length; i++) out[o++] = name.charCodeAt(i);
  out[o++] = 0;
  return o;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * BSON of `{ cursor: { firstBatch: [...docs], id: Long(0), ns }, ok: 1 }` (an exhausted cursor's
 * first batch) with each document's BSON copied in as is: no decode and re-encode of documents.
 * With `headroom`, the BSON starts that many bytes into a larger buffer (its `.buffer`), left
 * free for a message header (`frameOpMsg` with `opMsgBodyOffset`).
 */
export function encodeExhaustedCursorReply(ns: string, docs: readonly Uint8Array[], headroom = 0): Uint8Array {
  const nsAscii = isAscii(ns);
  const nsBytes = nsAscii ? undefined : utf8.encode(ns);
  const nsLen = nsBytes ? nsBytes.length : ns.length;
  let arrayLen = 4 + 1;
  for (let i = 0; i < docs.length; i++) arrayLen += 1 + String(i).length + 1 + docs[i]!.length;
  // cursor: length, firstBatch (04 "firstBatch" array), id (12 "id" int64), ns (02 "ns" string), 00
  const cursorLen = 4 + (1 + 11 + arrayLen) + (1 + 3 + 8) + (1 + 3 + 4 + nsLen + 1) + 1;
  // top: length, cursor (03 "cursor" document), ok (01 "ok" double), 00
  const total = 4 + (1 + 7 + cursorLen) + (1 + 3 + 8) + 1;
  const out = new Uint8Array(headroom + total);
  i32(out, headroom, total);
  let o = elementHead(out, headroom + 4, 0x03, 'cursor');
  i32(out, o, cursorLen);
  o = elementHead(out, o + 4, 0x04, 'firstBatch');
  i32(out, o, arrayLen);
  o += 4;
  for (let i = 0; i < docs.length; i++) {
    o = elementHead(out, o, 0x03, String(i));
    out.set(docs[i]!, o);
    o += docs[i]!.length;
  }
  out[o++] = 0; // end of firstBatch
  o = elementHead(out, o, 0x12, 'id') + 8; // Long 0: zero bytes
  o = elementHead(out, o, 0x02, 'ns');
  i32(out, o, nsLen + 1);
  o += 4;
  if (nsBytes) out.set(nsBytes, o);
  else for (let i = 0; i < nsLen; i++) out[o + i] = ns.charCodeAt(i);
  o += nsLen;
  out[o++] = 0; // end of the string
  out[o++] = 0; // end of cursor
  o = elementHead(out, o, 0x01, 'ok');
  out[o + 6] = 0xf0; // 1.0 as a little-endian IEEE double: 00 00 00 00 00 00 f0 3f
  out[o + 7] = 0x3f;
  o += 8;
  out[o] = 0;
  return headroom === 0 ? out : out.subarray(headroom);
}

/** OP_MSG request (used by tests and the shell client); `sequences` become kind-1 sections. */
export function encodeOpMsgRequest(requestId: number, doc: Doc, options: { sequences?: Record<string, Doc[]>; checksum?: boolean; moreToCome?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0]), BSON.serialize(doc)];
  for (const [id, docs] of Object.entries(options.sequences ?? {})) {
    const idBytes = new TextEncoder().encode(id);
    const bodies = docs.map((d) => BSON.serialize(d));
    const size = 4 + idBytes.length + 1 + bodies.reduce((s, b) => s + b.length, 0);
    const head = new Uint8Array(1 + 4 + idBytes.length + 1);
    head[0] = 1;
    new DataView(head.buffer).setInt32(1, size, true);
    head.set(idBytes, 5);
    parts.push(head, ...bodies);
  }
  const flags = (options.checksum ? MSG_CHECKSUM_PRESENT : 0) | (options.moreToCome ? MSG_MORE_TO_COME : 0);
  const payload = parts.reduce((s, p) => s + p.length, 0);
  const total = 20 + payload + (options.checksum ? 4 : 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setInt32(0, total, true);
  v.setInt32(4, requestId, true);
  v.setInt32(8, 0, true);
  v.setInt32(12, OP_MSG, true);
  v.setUint32(16, flags, true);
  let o = 20;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  if (options.checksum) v.setUint32(o, kernels().crc32c(out.subarray(0, o)), true);
  return out;
}

/** Legacy OP_QUERY request (the old handshake path). */
export function encodeOpQuery(requestId: number, collection: string, doc: Doc): Uint8Array {
  const name = new TextEncoder().encode(collection);
  const body = BSON.serialize(doc);
  const total = 16 + 4 + name.length + 1 + 8 + body.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setInt32(0, total, true);
  v.setInt32(4, requestId, true);
  v.setInt32(12, OP_QUERY, true);
  out.set(name, 20);
  v.setInt32(20 + name.length + 1 + 4, -1, true);
  out.set(body, 20 + name.length + 1 + 8);
  return out;
}

/** OP_REPLY with one document (answers OP_QUERY). */
export function encodeOpReply(responseTo: number, doc: Doc): Uint8Array {
  return encodeOpReplyBody(responseTo, BSON.serialize(doc));
}

/** OP_REPLY with one document that is already BSON. */
export function encodeOpReplyBody(responseTo: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(36 + body.length);
  header(out, out.length, responseTo, OP_REPLY);
  const v = new DataView(out.buffer);
  v.setInt32(16, 0, true);
  v.setBigInt64(20, 0n, true);
  v.setInt32(28, 0, true);
  v.setInt32(32, 1, true);
  out.set(body, 36);
  return out;
}

/** Decode a reply (OP_MSG or OP_REPLY) to its first document: for tests and the shell client. */
export function decodeReply(msg: Uint8Array): Doc {
  const view = new DataView(msg.buffer, msg.byteOffset, msg.length);
  const op = view.getInt32(12, true);
  if (op === OP_MSG) return readDoc(msg, 21, msg.length, 'reply')[0];
  if (op === OP_REPLY) return readDoc(msg, 36, msg.length, 'reply')[0];
  throw malformed(`unexpected reply opCode ${op}`);
}
