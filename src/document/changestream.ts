/**
 * In-process change streams. Events come from the engine's commit pipeline (live) and from the
 * persisted change log (resumeAfter/startAfter, which survives a restart). The resume token is
 * `{ _data: <16 hex digits of the commit sequence> }`. A stream first registers its live listener
 * (buffering), then replays the log after the token, then drains the live buffer, skipping events
 * it already delivered (by sequence), so no event is lost or duplicated.
 */
import { Timestamp } from 'bson';
import { LargetableError } from '../errors.ts';
import { runPipeline } from '../query/index.ts';
import { isPlainObject, type Document } from '../query/values.ts';
import { decodeDocument, type ChangeEvent, type Engine } from './engine.ts';
import { documentKey, encodeId } from './keyspace.ts';

export function resumeToken(seq: bigint): Document {
  return { _data: seq.toString(16).padStart(16, '0') };
}

function tokenSeq(token: unknown): bigint {
  if (!isPlainObject(token) || typeof token._data !== 'string' || !/^[0-9a-f]{1,16}$/.test(token._data)) {
    throw new LargetableError('INVALID_ARGUMENT', 'invalid resume token');
  }
  return BigInt('0x' + token._data);
}

type Listener = (ev: Document) => void;

export interface WatchTarget {
  db?: string | undefined;
  coll?: string | undefined;
}

export class ChangeStream<T = Document> implements AsyncIterable<T> {
  private readonly engine: Engine;
  private readonly target: WatchTarget;
  private readonly pipeline: Document[];
  private readonly options: Document;
  private queue: ChangeEvent[] = [];
  private waiters: (() => void)[] = [];
  private lastSeq: bigint;
  private started = false;
  private replay: Promise<void> | undefined;
  private _closed = false;
  private readonly listener: (events: ChangeEvent[]) => void;
  private readonly handlers = new Map<string, Set<Listener>>();
  private pumping = false;
  /** Resume token of the last event returned. */
  resumeToken: Document | undefined;

  constructor(engine: Engine, target: WatchTarget, pipeline: Document[], options: Document) {
    if (!Array.isArray(pipeline)) throw new LargetableError('BAD_QUERY', 'change stream pipeline must be an array');
    for (const s of pipeline) {
      const k = isPlainObject(s) ? Object.keys(s)[0] : undefined;
      if (!k || !['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact'].includes(k)) {
        throw new LargetableError('BAD_QUERY', `stage ${String(k)} is not allowed in a change stream pipeline`);
      }
    }
    this.engine = engine;
    this.target = target;
    this.pipeline = pipeline;
    this.options = options;
    const from = options.resumeAfter ?? options.startAfter;
    this.lastSeq = from !== undefined ? tokenSeq(from) : BigInt(engine.changeSeq);
    const resuming = from !== undefined;
    this.listener = (events) => {
      for (const e of events) if (this.matches(e)) this.queue.push(e);
      this.wake();
    };
    engine.watchers.add(this.listener);
    if (resuming) this.replay = this.replayLog();
  }

  get closed(): boolean {
    return this._closed;
  }

  private matches(e: ChangeEvent): boolean {
    if (this.target.db !== undefined && e.db !== this.target.db) return false;
    if (this.target.coll !== undefined && e.coll !== this.target.coll) return false;
    return true;
  }

  private async replayLog(): Promise<void> {
    const oldest = await this.engine.oldestChangeSeq();
    if (oldest !== undefined && this.lastSeq + 1n < oldest) {
      throw new LargetableError('NOT_FOUND', 'resume token is older than the change log window (ChangeStreamHistoryLost)', { details: { codeName: 'ChangeStreamHistoryLost' } });
    }
    const replayed: ChangeEvent[] = [];
    for await (const e of this.engine.changeLog(this.lastSeq)) if (this.matches(e)) replayed.push(e);
    const live = this.queue;
    const maxReplayed = replayed.length ? replayed[replayed.length - 1]!.seq : this.lastSeq;
    this.queue = [...replayed, ...live.filter((e) => e.seq > maxReplayed)];
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async toDocument(e: ChangeEvent): Promise<Document> {
    const out: Document = {
      _id: resumeToken(e.seq),
      operationType: e.op,
      clusterTime: new Timestamp({ t: Math.floor(e.wallTime.getTime() / 1000), i: Number(e.seq & 0xffffffffn) }),
      wallTime: e.wallTime,
      ns: { db: e.db, coll: e.coll },
    };
    if (e.op === 'rename' && e.to) out.to = e.to;
    if (e.id !== undefined) out.documentKey = { _id: e.id };
    if (e.op === 'insert' || e.op === 'replace') out.fullDocument = e.fullDocument;
    if (e.op === 'update') {
      out.updateDescription = e.updateDescription;
      const mode = this.options.fullDocument;
      if (mode === 'updateLookup' || mode === 'whenAvailable' || mode === 'required') {
        out.fullDocument = await this.lookup(e);
        if (out.fullDocument === null && mode === 'required') throw new LargetableError('NOT_FOUND', 'fullDocument required but the document no longer exists');
      }
    }
    return out;
  }

  private async lookup(e: ChangeEvent): Promise<Document | null> {
    const coll = this.engine.collection(e.db, e.coll);
    if (!coll) return null;
    const v = await this.engine.live.get(documentKey(coll.id, encodeId(e.id)));
    return v ? decodeDocument(v) : null;
  }

  private async applyPipeline(doc: Document): Promise<Document | undefined> {
    if (this.pipeline.length === 0) return doc;
    for await (const d of runPipeline(
      (async function* () {
        yield doc;
      })(),
      this.pipeline,
      { collection: () => (async function* () {})() },
    ))
      return d;
    return undefined;
  }

  /** Next event, waiting for one. Returns null once closed. */
  async next(): Promise<T | null> {
    for (;;) {
      const d = await this.tryNextInternal(true);
      if (d !== undefined) return d;
      if (this._closed) return null;
    }
  }

  /** Next event if one is ready, else null (no waiting). */
  async tryNext(): Promise<T | null> {
    const d = await this.tryNextInternal(false);
    return d ?? null;
  }

  async hasNext(): Promise<boolean> {
    if (this._closed) return false;
    if (this.replay) await this.replay;
    while (this.queue.length === 0 && !this._closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.queue.length > 0;
  }

  private async tryNextInternal(wait: boolean): Promise<T | null | undefined> {
    if (this._closed) return null;
    this.engine.checkOpen();
    if (this.replay) {
      const r = this.replay;
      await r;
      if (this.replay === r) this.replay = undefined;
    }
    this.started = true;
    while (this.queue.length > 0) {
      const e = this.queue.shift()!;
      if (e.seq <= this.lastSeq) continue;
      this.lastSeq = e.seq;
      const doc = await this.applyPipeline(await this.toDocument(e));
      this.resumeToken = resumeToken(e.seq);
      if (doc) return doc as T;
    }
    if (!wait) return null;
    await new Promise<void>((r) => this.waiters.push(r));
    return undefined;
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    this.engine.watchers.delete(this.listener);
    this.emit('close', {});
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        const d = await this.next();
        if (d === null) return;
        yield d;
      }
    } finally {
      await this.close();
    }
  }

  /** EventEmitter-style: on('change', fn) starts delivering events to fn. */
  on(event: 'change' | 'error' | 'close', fn: Listener): this {
    let s = this.handlers.get(event);
    if (!s) this.handlers.set(event, (s = new Set()));
    s.add(fn);
    if (event === 'change' && !this.pumping) void this.pump();
    return this;
  }

  off(event: string, fn: Listener): this {
    this.handlers.get(event)?.delete(fn);
    return this;
  }

  once(event: 'change' | 'error' | 'close', fn: Listener): this {
    const w: Listener = (ev) => {
      this.off(event, w);
      fn(ev);
    };
    return this.on(event, w);
  }

  removeAllListeners(event?: string): this {
    if (event) this.handlers.delete(event);
    else this.handlers.clear();
    return this;
  }

  private emit(event: string, ev: Document): void {
    for (const f of this.handlers.get(event) ?? []) f(ev);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this._closed) {
        const d = await this.next();
        if (d === null) break;
        this.emit('change', d as Document);
      }
    } catch (err) {
      this.emit('error', err as Document);
    } finally {
      this.pumping = false;
    }
  }
}
