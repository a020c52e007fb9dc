// PostgreSQL drivers side by side (issue 17: "drizzle over a well-kept driver — `postgres` or
// Bun's own SQL client — measured, chosen"): Bun's built-in SQL against postgres.js on one
// PostgreSQL (fsync on) the script starts, the same statements, interleaved rounds. The shapes
// are the ones the group committer and the stores use: sequential round trips on one connection
// (an operation's queries), a transaction of single-row inserts with a savepoint each, one
// 500-row INSERT … SELECT FROM unnest (a batch create), and pipelined reads on a pool. Asserts nothing.
import { SQL } from "bun";
import postgres from "postgres";
import { startPostgres } from "../src/testing/postgres.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Driver {
  name: string;
  select1(): Promise<unknown>;
  /** n single-row inserts in one transaction, each in a savepoint. */
  txInserts(n: number): Promise<void>;
  batchInsert(ids: string[]): Promise<void>;
  close(): Promise<void>;
}

function bunDriver(url: string): Driver {
  const sql = new SQL(url, { max: 8 });
  return {
    name: "Bun SQL (built in)",
    select1: () => sql`SELECT 1 AS x`,
    async txInserts(n) {
      const c = await sql.reserve();
      try {
        await c.unsafe("BEGIN");
        for (let i = 0; i < n; i++) {
          await c.unsafe("SAVEPOINT op");
          await c`INSERT INTO bench_rows (id, v) VALUES (${crypto.randomUUID()}, ${"x"})`;
          await c.unsafe("RELEASE op");
        }
        await c.unsafe("COMMIT");
      } finally {
        c.release();
      }
    },
    async batchInsert(ids) {
      await sql.unsafe(`INSERT INTO bench_rows (id, v) SELECT id, 'x' FROM unnest($1::text[]) AS t(id)`, [ids]);
    },
    close: () => sql.close(),
  };
}

function postgresJs(url: string): Driver {
  const sql = postgres(url, { max: 8 });
  return {
    name: "postgres.js 3.4.9",
    select1: () => sql`SELECT 1 AS x`,
    async txInserts(n) {
      await sql.begin(async (tx) => {
        for (let i = 0; i < n; i++) {
          await tx.savepoint(async (sp) => {
            await sp`INSERT INTO bench_rows (id, v) VALUES (${crypto.randomUUID()}, ${"x"})`;
          });
        }
      });
    },
    async batchInsert(ids) {
      await sql`INSERT INTO bench_rows (id, v) SELECT id, 'x' FROM unnest(${sql.array(ids)}::text[]) AS t(id)`;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

const us = (ms: number, n: number) => Math.round((ms * 1000) / n);

async function measure(d: Driver) {
  const t0 = performance.now();
  for (let i = 0; i < 2000; i++) await d.select1();
  const seq = us(performance.now() - t0, 2000);
  const t1 = performance.now();
  await Promise.all(Array.from({ length: 2000 }, () => d.select1()));
  const pipelined = us(performance.now() - t1, 2000);
  const t2 = performance.now();
  for (let i = 0; i < 5; i++) await d.txInserts(200);
  const tx = us(performance.now() - t2, 1000);
  const t3 = performance.now();
  for (let i = 0; i < 20; i++) await d.batchInsert(Array.from({ length: 500 }, () => crypto.randomUUID()));
  const batch = us(performance.now() - t3, 10_000);
  return { seq, pipelined, tx, batch };
}

export async function pgDriverBench(): Promise<string> {
  const pg = await startPostgres();
  try {
    const url = await pg.createDatabase("drivers");
    const setup = new SQL(url, { max: 1 });
    await setup`CREATE TABLE bench_rows (id text PRIMARY KEY, v text)`;
    await setup.close();
    const results = new Map<string, ReturnType<typeof measure> extends Promise<infer R> ? R[] : never>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const make of round % 2 ? [postgresJs, bunDriver] : [bunDriver, postgresJs]) {
        const d = make(url);
        await measure(d); // warm up the connections
        const r = await measure(d);
        await d.close();
        results.set(d.name, [...(results.get(d.name) ?? []), r]);
      }
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const lines = ["| driver | sequential round trip µs | pipelined read µs | insert in a savepoint, per row µs | 500-row unnest insert, per row µs |", "|---|---:|---:|---:|---:|"];
    for (const [name, rs] of results) {
      lines.push(`| ${name} | ${median(rs.map((r) => r.seq))} | ${median(rs.map((r) => r.pipelined))} | ${median(rs.map((r) => r.tx))} | ${median(rs.map((r) => r.batch))} |`);
    }
    return `Medians of ${ROUNDS} interleaved rounds (each after a warm-up pass); one PostgreSQL 15 on loopback, fsync on; wall time per operation from one client process.\n\n${lines.join("\n")}`;
  } finally {
    await pg.stop();
  }
}
