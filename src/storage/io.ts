/** Wraps adapter calls so every failure surfaces as IO_ERROR naming the file and operation. */
import { LargetableError, isLargetableError } from '../errors.ts';

export async function io<T>(file: string, operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toIoError(err, file, operation);
  }
}

export function toIoError(err: unknown, file: string, operation: string): LargetableError {
  if (isLargetableError(err)) {
    if (err.code === 'IO_ERROR' && err.details.file !== undefined && err.details.operation !== undefined) return err;
    if (err.code !== 'IO_ERROR') return err;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new LargetableError('IO_ERROR', `${operation} ${file} failed: ${msg}`, {
    cause: err,
    details: { file, operation },
  });
}
