import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock } from "../core/clock.ts";
import { take } from "../testing/async.ts";
import { openDatabase, type Database } from "../db/client.ts";
import type { Bus } from "../bus/bus.ts";
import { createInProcessBus } from "../bus/in-process.ts";
import { createSqliteBusLog } from "../bus/sqlite-log.ts";
import { createMail, type Mail, type MailDeps } from "./mail.ts";

/** A mail domain over a real SQLite file in a temp dir, for tests. */
export interface MailFixture {
  mail: Mail;
  bus: Bus;
  database: Database;
  clock: ReturnType<typeof createManualClock>;
  close(): Promise<void>;
}

/**
 * A mail domain for a test: over `database` when given (a contract suite's fresh database of
 * either dialect, closed by the suite), else over a temp SQLite file; with a bus (given, else
 * in-process: over the SQLite log on SQLite, in memory on PostgreSQL, whose instances share
 * NATS instead).
 */
export async function createMailFixture(
  options: { bus?: (clock: MailFixture["clock"], database: Database) => Promise<Bus>; clock?: MailFixture["clock"]; database?: Database } & Partial<
    Omit<MailDeps, "bus" | "database" | "clock">
  > = {},
): Promise<MailFixture> {
  const dir = options.database ? undefined : mkdtempSync(join(tmpdir(), "switchyard-mail-"));
  const database = options.database ?? openDatabase(join(dir!, "switchyard.db"));
  const clock = options.clock ?? createManualClock(Date.now());
  const bus = options.bus
    ? await options.bus(clock, database)
    : createInProcessBus({ clock, log: database.dialect === "sqlite" ? createSqliteBusLog(database) : undefined });
  const mail = await createMail({ leaseSweepMs: 0, ...options, database, bus, clock });
  return {
    mail,
    bus,
    database,
    clock,
    async close() {
      await mail.close();
      await bus.close();
      if (dir) {
        await database.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Reads `n` items from an async iterable's shared iterator, failing after `timeoutMs`. */
export function takeN<T>(iterable: AsyncIterable<T>, n: number, timeoutMs = 5000): Promise<T[]> {
  return take(iterable[Symbol.asyncIterator](), n, timeoutMs);
}
