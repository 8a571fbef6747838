/**
 * Every bound in the engine, named with its unit last. Code that enforces a bound imports it
 * from here; nothing hard-codes a limit elsewhere.
 */

/** Largest stored document, as encoded BSON (MongoDB's limit). */
export const documentSizeBytesMax = 16 * 1024 * 1024;
/** Deepest nesting of objects/arrays in a stored document or a query. */
export const documentDepthMax = 100;
/** Largest value stored under one key in the storage engine. */
export const valueSizeBytesMax = 16 * 1024 * 1024;
/** Largest key in the storage engine. */
export const keySizeBytesMax = 64 * 1024;
/** Largest write batch (sum of keys and values). */
export const batchSizeBytesMax = 64 * 1024 * 1024;
/** Default memtable size before it is flushed to a segment. */
export const memtableSizeBytesDefault = 32 * 1024 * 1024;
/** Default block cache budget. */
export const blockCacheSizeBytesDefault = 64 * 1024 * 1024;
/**
 * Target uncompressed size of one segment block. A point read or an index fetch reads, checks
 * (crc32c) and searches a whole block for one entry, so its cost grows with the block; a scan pays
 * per block too. At 1,000,000 documents (one store compacted with each size, alternated runs,
 * load 8-11) 8 KiB against 16 KiB: point get CPU 0.96-1.04 vs 1.44-1.71 s per 20,000 gets,
 * indexed equality 4.0-4.1 vs 5.4-6.3 s of CPU per 5 queries, range and scans no worse;
 * 4 KiB gained little more on gets and lost on scans.
 */
export const blockSizeBytesTarget = 8 * 1024;
/** Bound on how long a `relaxed` write may stay unsynced. */
export const relaxedSyncDelayMsMax = 100;
/** Largest k for top-k kernels and vector search. */
export const topKMax = 1024;
/** Largest vector dimension. */
export const vectorDimensionsMax = 4096;
/** Largest number of queries in one batched kernel call. */
export const kernelBatchQueriesMax = 4096;
/** Longest database or collection name, UTF-8 bytes. */
export const nameSizeBytesMax = 64;
/** Largest documents in one insertMany / bulkWrite call. */
export const writeBatchDocumentsMax = 100_000;
/** Largest HTTP request body accepted by the server. */
export const requestBodyBytesMax = 48 * 1024 * 1024;
/** Largest MongoDB wire message accepted. */
export const wireMessageBytesMax = 48 * 1000 * 1000;
/** Default cursor batch size for getMore. */
export const cursorBatchSizeDefault = 101;
/** Largest $regex pattern, characters. */
export const regexPatternLengthMax = 4096;
/** Largest number of stages in an aggregation pipeline. */
export const pipelineStagesMax = 1000;
/**
 * Target size of one segment file written by compaction (a segment may exceed it by one value).
 * Finishing a segment builds its bloom filter and index in memory (~1.5 bytes per key) and the
 * open segment reads them back: 16 MiB keeps that transient small next to the memory budgets.
 */
export const segmentSizeBytesTarget = 16 * 1024 * 1024;
/** Level-0 segments that trigger a background compaction. */
export const level0SegmentsCompactTrigger = 4;
/** Immutable memtables waiting for flush before writers stall. */
export const immutableMemtablesMax = 2;
/** WAL files replayed at open before the recovered memtable is flushed at once. */
export const walFilesReplayFlushTrigger = 4;
/** Entries kept in the document layer's change log (change stream resume window). */
export const changeLogEntriesMax = 10_000;
/** Keys sampled per candidate plan when the planner estimates selectivity. */
export const plannerSampleKeysMax = 256;
/** Most index intervals one plan may scan ($in x compound equality products). */
export const plannerIntervalsMax = 4096;
/** Entries in the per-collection plan cache. */
export const planCacheEntriesMax = 256;
/** Period of the TTL sweep, milliseconds. */
export const ttlSweepIntervalMs = 60_000;
/** Collection handles a wire server keeps by namespace (cleared when full). */
export const wireHandlesCachedMax = 1024;
/** Database and collection names remembered as valid, per kind (cleared when full). */
export const validNamesCachedMax = 4096;
/** Most wire-protocol cursors open at once (server-wide). */
export const wireCursorsOpenMax = 10_000;
/** A wire-protocol cursor idle longer than this is closed. */
export const wireCursorIdleMsMax = 10 * 60 * 1000;
/** Default budget of the document layer's decoded-document cache (approximate bytes). */
export const documentCacheBytesDefault = 64 * 1024 * 1024;
/** Longest array an aggregation expression may build ($range, $regexFindAll). */
export const expressionArrayLengthMax = 1_000_000;
/** Largest array index an update may write to (pads the array with nulls up to it). */
export const updateArrayIndexMax = 1_000_000;
/** Bytes of queued batches appended together by one group commit (at least one batch). */
export const walGroupBytesMax = 8 * 1024 * 1024;
/** Most bytes (encoded documents) an in-memory sort without a limit may hold (MongoDB: 100 MiB). */
export const sortMemoryBytesMax = 100 * 1024 * 1024;
/** Default cap on an HTTP request body (configurable up to requestBodyBytesMax). */
export const requestBodyBytesDefault = 16 * 1024 * 1024;
/** Largest documents payload of one wire reply batch (the BSON limit less room for the envelope). */
export const replyBatchBytesMax = documentSizeBytesMax - 16 * 1024;
/** Largest WebSocket message accepted from a client (change stream control messages). */
export const webSocketMessageBytesMax = 1024 * 1024;
/** Most simultaneous MongoDB wire-protocol connections. */
export const wireConnectionsMax = 10_000;
/** Most documents one REST find returns. */
export const restFindDocumentsMax = 10_000;
/** Longest a change stream getMore waits for an event when the driver gives no maxTimeMS. */
export const changeStreamAwaitMsDefault = 1000;
/** Longest a change stream getMore may wait, whatever maxTimeMS says. */
export const changeStreamAwaitMsMax = 30_000;
/** Level-0 segments at which a memtable rotation waits for the background compaction. */
export const level0SegmentsStall = 12;
/** Operations slower than this are logged with their plan (default; configurable). */
export const slowQueryMsDefault = 100;
/** Idle time after which a wire-protocol logical session expires, as reported to drivers. */
export const wireSessionTimeoutMinutes = 30;
