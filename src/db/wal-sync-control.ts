/** The Int32 slots of the WAL sync thread's SharedArrayBuffer (wal-sync.ts, wal-sync-worker.ts). */
/** Sync requests counted by the main thread; the worker sleeps until it moves. */
export const REQUESTS = 0;
/** Set to 1 (then REQUESTS moved) to end the worker. */
export const STOP = 1;
export const CONTROL_BYTES = 8;
