import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createManualClock } from "../core/clock.ts";
import { createLogger } from "../core/logger.ts";
import { openPostgresDatabase, type PgDatabase } from "../db/open.ts";
import { describeDialects } from "../testing/dialects.ts";
import { freshPostgresUrl, sharedPostgres } from "../testing/postgres.ts";
import { createEdge, rateLimitStoreFor } from "./edge.ts";
import { createRateLimiter } from "./limiter.ts";
import { parseRateLimits } from "./rate-limit-spec.ts";

describeDialects("limiter", (open, dialect) => {
  // Starting the test PostgreSQL (initdb) may take longer than a hook's default 5 s on a busy machine.
  if (dialect === "postgres") beforeAll(async () => void (await sharedPostgres()), 120_000);
  it("counts per key and window, aligned to the epoch of the injected clock", async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 59));
    const limiter = createRateLimiter({ policy: parseRateLimits("off;api=2/m"), clock, store: rateLimitStoreFor(await open()) });
    expect((await limiter.consume(["api"], "a"))!.binding.remaining).toBe(1);
    expect((await limiter.consume(["api"], "b"))!.binding.remaining).toBe(1);
    expect((await limiter.consume(["api"], "a"))!.allowed).toBe(true);
    const refused = (await limiter.consume(["api"], "a"))!;
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    clock.advance(1000);
    expect((await limiter.consume(["api"], "a"))!).toMatchObject({ allowed: true, binding: { remaining: 1 } });
    expect(await limiter.consume(["seed-003"], "a")).toBeUndefined();
  });

  it("binds to the window with the fewest left, refuses by the longest, and reports status without counting", async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
    const limiter = createRateLimiter({ policy: parseRateLimits("off;seed-004=3/m,4/h"), clock, store: rateLimitStoreFor(await open()) });
    for (let i = 0; i < 3; i++) expect((await limiter.consume(["seed-004"], "k"))!.allowed).toBe(true);
    expect((await limiter.consume(["seed-004"], "k"))!).toMatchObject({ allowed: false, binding: { window: { name: "minute" } } });
    // The refused request counted too: the hour has 4 of 4, so the next minute is refused by it.
    clock.advance(60_000);
    expect((await limiter.consume(["seed-004"], "k"))!).toMatchObject({ allowed: false, binding: { window: { name: "hour" } }, retryAfterMs: 3_540_000 });
    const status = await limiter.status(["seed-004"], "k");
    expect(status.map((s) => [s.window.name, s.remaining])).toEqual([
      ["minute", 2],
      ["hour", 0],
    ]);
    expect((await limiter.status(["seed-004"], "other")).map((s) => s.remaining)).toEqual([3, 4]);
  });
});

const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");

describe.skipIf(!wanted)("rate limits across two instances [postgres]", () => {
  const dbs: PgDatabase[] = [];
  beforeAll(async () => void (await sharedPostgres()), 120_000);
  afterAll(async () => {
    for (const db of dbs) await db.close();
  });

  it("two limiters on one database share the counters: the N+1st request across both is refused, and both report it", async () => {
    const url = await freshPostgresUrl("edge_instances");
    dbs.push(await openPostgresDatabase(url), await openPostgresDatabase(url));
    const clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
    const policy = parseRateLimits("off;api=5/m");
    const [a, b] = dbs.map((db) => createRateLimiter({ policy, clock, store: rateLimitStoreFor(db) }));
    // Six requests at once, alternating between the instances: exactly five are admitted.
    const decisions = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a! : b!).consume(["api"], "principal:acme/u")));
    expect(decisions.filter((d) => d!.allowed).length).toBe(5);
    expect((await a!.consume(["api"], "principal:acme/u"))!.allowed).toBe(false);
    expect((await b!.consume(["api"], "principal:acme/u"))!.allowed).toBe(false);
    expect((await a!.status(["api"], "principal:acme/u"))[0]!.remaining).toBe(0);
    // An edge given only the URL (its own small pool) counts in the same table.
    const edge = createEdge({ config: { rateLimits: policy, trustedProxies: [], databaseUrl: url }, clock, log: createLogger("error") });
    try {
      expect((await edge.limiter.consume(["api"], "principal:acme/u"))!.allowed).toBe(false);
    } finally {
      await edge.close();
    }
    // Another caller is not affected; the next window starts afresh on both.
    expect((await b!.consume(["api"], "principal:acme/v"))!.allowed).toBe(true);
    clock.advance(60_000);
    expect((await a!.consume(["api"], "principal:acme/u"))!).toMatchObject({ allowed: true, binding: { remaining: 4 } });
  });
});
