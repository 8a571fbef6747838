/**
 * FaultyAdapter: wraps any StorageAdapter and injects faults by call count.
 * - fail the Nth call of a method once, or from the Nth call on (persistent);
 * - tear: a failing write/append first writes a prefix of its bytes (a torn write);
 * - crash: at the Nth call, run `onCrash` (e.g. drop every unsynced byte of a memory volume)
 *   and fail that call and every later one, like a killed process;
 * - hold: a `callGate` may hold any handle write or sync until the test lets it go (or fails it).
 * Injected errors are IO_ERROR naming the file and operation, as real adapter failures are.
 * Runtime-neutral (no node: imports), so it can wrap browser adapters too.
 */
import { LargetableError } from '../../src/errors.ts';
import type { FileHandle, StorageAdapter } from '../../src/storage/adapter.ts';

/** `closeAdapter` is the adapter's own close() (releases the lock); `close` is a handle's. */
export const adapterMethods = ['open', 'list', 'exists', 'remove', 'replace', 'readAll', 'lock', 'closeAdapter'] as const;
export const handleMethods = ['read', 'write', 'append', 'size', 'truncate', 'sync', 'close'] as const;
export type FaultMethod = (typeof adapterMethods)[number] | (typeof handleMethods)[number];

export interface FaultPlan {
  method: FaultMethod;
  /** 1-based call number (counted from when the plan was armed). */
  nth: number;
  mode: 'once' | 'persistent' | 'crash';
  /** For write/append failures: bytes of the write that land before the failure. */
  tearBytes?: (length: number) => number;
  /** Only calls on files it accepts count (and fail); all calls of `method` when absent. */
  file?: (name: string) => boolean;
}

export class FaultyAdapter implements StorageAdapter {
  readonly inner: StorageAdapter;
  readonly calls = new Map<FaultMethod, number>();
  plan: FaultPlan | null = null;
  /** Faults injected so far. */
  injected = 0;
  /** Calls the armed plan counted (its method, on files its filter accepts). */
  planCalls = 0;
  crashed = false;
  onCrash: (() => void) | undefined;
  /**
   * Asked at every handle write and sync that no fault failed: a promise it returns holds the call
   * until it settles (its rejection fails the call, nothing written); undefined lets it run at once.
   */
  callGate: ((op: 'write' | 'sync', file: string) => Promise<void> | undefined) | undefined;

  constructor(inner: StorageAdapter, onCrash?: () => void) {
    this.inner = inner;
    this.onCrash = onCrash;
  }

  get location(): string {
    return this.inner.location;
  }

  arm(plan: FaultPlan | null): void {
    this.plan = plan;
    this.calls.clear();
    this.planCalls = 0;
  }

  /** Throws if this call must fail; returns the plan when a tear applies. */
  check(method: FaultMethod, file: string): FaultPlan | null {
    if (this.crashed) throw this.error(method, file, 'process crashed (simulated)');
    const n = (this.calls.get(method) ?? 0) + 1;
    this.calls.set(method, n);
    const p = this.plan;
    if (p === null || p.method !== method || (p.file !== undefined && !p.file(file))) return null;
    const c = ++this.planCalls;
    if (c === p.nth || (p.mode === 'persistent' && c > p.nth)) {
      if (p.mode === 'crash') {
        this.crashed = true;
        this.injected++;
        this.onCrash?.();
        throw this.error(method, file, 'process crashed (simulated)');
      }
      return p;
    }
    return null;
  }

  error(method: string, file: string, why = 'injected fault'): LargetableError {
    return new LargetableError('IO_ERROR', `${method} ${file} failed: ${why}`, { details: { file, operation: method, injected: true } });
  }

  private fault(method: FaultMethod, file: string): void {
    if (this.check(method, file) !== null) {
      this.injected++;
      throw this.error(method, file);
    }
  }

  async open(name: string, options?: { create?: boolean }): Promise<FileHandle> {
    this.fault('open', name);
    return new FaultyHandle(this, await this.inner.open(name, options));
  }
  async list(): Promise<string[]> {
    this.fault('list', '*');
    return this.inner.list();
  }
  async exists(name: string): Promise<boolean> {
    this.fault('exists', name);
    return this.inner.exists(name);
  }
  async remove(name: string): Promise<void> {
    this.fault('remove', name);
    return this.inner.remove(name);
  }
  async replace(name: string, bytes: Uint8Array): Promise<void> {
    this.fault('replace', name);
    return this.inner.replace(name, bytes);
  }
  async readAll(name: string): Promise<Uint8Array> {
    this.fault('readAll', name);
    return this.inner.readAll(name);
  }
  async lock(): Promise<void> {
    this.fault('lock', this.inner.location);
    return this.inner.lock();
  }
  /** A failing close leaves the inner adapter (and its lock) open, as a failed unlock would. */
  async close(): Promise<void> {
    this.fault('closeAdapter', this.inner.location);
    return this.inner.close();
  }
}

class FaultyHandle implements FileHandle {
  readonly a: FaultyAdapter;
  readonly h: FileHandle;
  constructor(a: FaultyAdapter, h: FileHandle) {
    this.a = a;
    this.h = h;
  }
  get name(): string {
    return this.h.name;
  }
  private simple(method: FaultMethod): void {
    if (this.a.check(method, this.h.name) !== null) {
      this.a.injected++;
      throw this.a.error(method, this.h.name);
    }
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.simple('read');
    return this.h.read(offset, length);
  }
  async write(offset: number, bytes: Uint8Array): Promise<void> {
    const p = this.a.check('write', this.h.name);
    if (p !== null) {
      this.a.injected++;
      const keep = p.tearBytes?.(bytes.length) ?? 0;
      if (keep > 0) await this.h.write(offset, bytes.subarray(0, keep));
      throw this.a.error('write', this.h.name);
    }
    const g = this.a.callGate?.('write', this.h.name);
    if (g !== undefined) {
      const copy = bytes.slice(); // the engine may reuse its buffer once the write settles, not before
      await g;
      return this.h.write(offset, copy);
    }
    return this.h.write(offset, bytes);
  }
  async append(bytes: Uint8Array): Promise<number> {
    const p = this.a.check('append', this.h.name);
    if (p !== null) {
      this.a.injected++;
      const keep = p.tearBytes?.(bytes.length) ?? 0;
      if (keep > 0) await this.h.append(bytes.subarray(0, keep));
      throw this.a.error('append', this.h.name);
    }
    return this.h.append(bytes);
  }
  async size(): Promise<number> {
    this.simple('size');
    return this.h.size();
  }
  async truncate(length: number): Promise<void> {
    this.simple('truncate');
    return this.h.truncate(length);
  }
  async sync(): Promise<void> {
    this.simple('sync');
    const g = this.a.callGate?.('sync', this.h.name);
    if (g !== undefined) await g;
    return this.h.sync();
  }
  async close(): Promise<void> {
    this.simple('close');
    return this.h.close();
  }
}
