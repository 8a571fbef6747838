/**
 * One error type for the whole engine. Every refusal, I/O failure and corruption is a
 * `LargetableError` with a `code` from `ErrorCode`; the original error, if any, is in `cause`.
 * Assertion failures (bugs) are plain `Error`s and are never caught.
 */

export const ErrorCode = {
  /** Caller passed a value of the wrong type or shape. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A value is outside a bound from limits.ts. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** A storage location names a backend this runtime does not have. */
  UNSUPPORTED_STORAGE: 'UNSUPPORTED_STORAGE',
  /** An adapter call failed (file and operation are in the message and `details`). */
  IO_ERROR: 'IO_ERROR',
  /** A checksum, length or structure check failed on stored bytes. */
  CORRUPTION: 'CORRUPTION',
  /** Stored bytes use a format version this build does not read. */
  UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  /** Another writer holds the data directory. */
  LOCKED: 'LOCKED',
  /** The store, client or cursor was already closed. */
  CLOSED: 'CLOSED',
  /** A named thing does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** A named thing already exists. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** Unique index violation (MongoDB code 11000). */
  DUPLICATE_KEY: 'DUPLICATE_KEY',
  /** A query, update or pipeline is malformed. */
  BAD_QUERY: 'BAD_QUERY',
  /** An operator exists in MongoDB but is refused here for safety ($where, $function, ...). */
  FORBIDDEN_OPERATOR: 'FORBIDDEN_OPERATOR',
  /** A document is invalid for storage (reserved key, $-prefixed field, too deep, too big). */
  INVALID_DOCUMENT: 'INVALID_DOCUMENT',
  /** A vector has the wrong dimension, type or a non-finite component. */
  INVALID_VECTOR: 'INVALID_VECTOR',
  /** A transaction conflicted with a concurrent write and was aborted. */
  WRITE_CONFLICT: 'WRITE_CONFLICT',
  /** The operation is valid MongoDB but not implemented by Largetable. */
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  /** The WebAssembly kernels failed to load or returned an error status. */
  KERNEL_ERROR: 'KERNEL_ERROR',
  /** Configuration is invalid (the key is named in the message). */
  BAD_CONFIG: 'BAD_CONFIG',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** MongoDB numeric error codes for the codes that have one (used by the wire protocol). */
export const mongoCodeOf: Partial<Record<ErrorCode, { code: number; codeName: string }>> = {
  DUPLICATE_KEY: { code: 11000, codeName: 'DuplicateKey' },
  BAD_QUERY: { code: 2, codeName: 'BadValue' },
  INVALID_ARGUMENT: { code: 2, codeName: 'BadValue' },
  INVALID_DOCUMENT: { code: 2, codeName: 'BadValue' },
  INVALID_VECTOR: { code: 2, codeName: 'BadValue' },
  FORBIDDEN_OPERATOR: { code: 2, codeName: 'BadValue' },
  LIMIT_EXCEEDED: { code: 10334, codeName: 'BSONObjectTooLarge' },
  NOT_FOUND: { code: 26, codeName: 'NamespaceNotFound' },
  ALREADY_EXISTS: { code: 48, codeName: 'NamespaceExists' },
  WRITE_CONFLICT: { code: 112, codeName: 'WriteConflict' },
  NOT_SUPPORTED: { code: 115, codeName: 'CommandNotSupported' },
  CORRUPTION: { code: 1, codeName: 'InternalError' },
  IO_ERROR: { code: 1, codeName: 'InternalError' },
};

export class LargetableError extends Error {
  override readonly name = 'LargetableError';
  readonly code: ErrorCode;
  /** Structured context: file, offset, key, field, operation... */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** True when `err` is a LargetableError, optionally with the given code. */
export function isLargetableError(err: unknown, code?: ErrorCode): err is LargetableError {
  return err instanceof LargetableError && (code === undefined || err.code === code);
}

/** Throw a plain Error for a violated invariant (a bug, never bad input). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
