import { close, fdatasync, open, stat, statSync } from "node:fs";
import { failpointAsync } from "../core/failpoints.ts";

/**
 * Makes the write-ahead log durable without blocking the JavaScript thread: `sync()` issues
 * `fdatasync` on the `-wal` file through node:fs's asynchronous API, which Bun runs on its
 * thread pool, and resolves when the kernel reports every byte written to that file before the
 * call as on disk. It covers every transaction COMMITted (with synchronous=NORMAL, a commit is
 * a `write()` into the WAL) before `sync()` was called, by this connection or any other
 * process's: fdatasync flushes the file's pages, whoever wrote them.
 *
 * The descriptor is kept open across calls. SQLite keeps one WAL inode while any connection is
 * open (ours is), but if the file was ever replaced (deleted by a last closer elsewhere and
 * created anew), a check of the path's inode that runs beside each sync notices it; the new file
 * is opened and synced before the call resolves. The old file's content was checkpointed into
 * the database (and that fsync'd) by whoever deleted it.
 */
export interface WalSyncer {
  sync(): Promise<void>;
  close(): Promise<void>;
  /** Times the file at the path was found replaced and reopened. */
  readonly reopens: number;
}

interface Handle {
  fd: number;
  ino: number;
}

const openFile = (path: string) =>
  new Promise<Handle>((resolve, reject) =>
    open(path, "r", (error, fd) => {
      if (error) return reject(error);
      stat(path, { bigint: false }, (e2, s) => (e2 ? (close(fd, () => {}), reject(e2)) : resolve({ fd, ino: s.ino })));
    }),
  );
const datasync = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
/**
 * The inode at the path, looked up on this thread: a stat of a file whose directory entry is in
 * the kernel's cache (SQLite writes it all the time) does no disk I/O and answers in a few µs,
 * with no hop to the thread pool and back and no callback to run on this thread later (both
 * measured in bench/results/*-claim-path.md), once per sync.
 */
const inodeOf = (path: string): number | undefined => {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
};

export function createWalSyncer(walPath: string): WalSyncer {
  let handle: Handle | undefined;
  let opening: Promise<Handle> | undefined;

  async function current(): Promise<Handle> {
    if (handle) return handle;
    opening ??= openFile(walPath).finally(() => (opening = undefined));
    handle = await opening;
    return handle;
  }

  let reopens = 0;
  return {
    get reopens() {
      return reopens;
    },
    async sync() {
      // A slow disk, for fault tests: the stall is where the fsync is, off the loop.
      await failpointAsync("db.sync");
      const h = await current();
      const synced = datasync(h.fd);
      const ino = inodeOf(walPath);
      await synced;
      if (ino !== undefined && ino !== h.ino) {
        // The file at the path is not the one synced: sync the one SQLite writes now.
        handle = undefined;
        reopens++;
        close(h.fd, () => {});
        const fresh = await current();
        await datasync(fresh.fd);
      }
    },
    async close() {
      const h = handle;
      handle = undefined;
      if (h) await new Promise<void>((resolve) => close(h.fd, () => resolve()));
    },
  };
}
