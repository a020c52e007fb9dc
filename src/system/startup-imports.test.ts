import { expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../testing/server.ts";
import * as limiters from "../core/rate-limiters.ts";
import * as prom from "./prom.ts";

// src/system/prom.ts and src/core/rate-limiters.ts load only the files Switchyard uses; importing
// either package's index again anywhere in the app brings back what they avoid (node:http and
// @opentelemetry/api through prom-client, every limiter store through rate-limiter-flexible).
// jose comes only with a JWT key or the first Google sign-in, and drizzle's PostgreSQL driver
// only with a postgres:// database.
test("importing the app loads neither package's index, nor @opentelemetry/api, nor the PostgreSQL limiter, driver or jose", async () => {
  const code = `await import(${JSON.stringify(join(repoRoot, "src/app.ts"))}); console.log(JSON.stringify(Object.keys(require.cache)));`;
  const p = Bun.spawn(["bun", "-e", code], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err] = [await new Response(p.stdout).text(), await new Response(p.stderr).text()];
  expect(await p.exited, err).toBe(0);
  const loaded = (JSON.parse(out) as string[]).map((k) => k.replace(/.*node_modules\//, ""));
  expect(loaded).toContain("prom-client/lib/counter.js");
  expect(loaded).toContain("rate-limiter-flexible/lib/RateLimiterMemory.js");
  expect(loaded.filter((k) => k === "prom-client/index.js" || k === "rate-limiter-flexible/index.js" || k.startsWith("@opentelemetry/") || k.endsWith("RateLimiterPostgres.js") || k.startsWith("jose/") || k.startsWith("drizzle-orm/bun-sql/") || k.endsWith("src/db/postgres.ts"))).toEqual([]);
});

test("the classes are the packages' own (instanceof and registries behave as through the index)", () => {
  const promIndex = require("prom-client");
  const flexibleIndex = require("rate-limiter-flexible");
  expect([prom.Registry, prom.Counter, prom.Gauge, prom.Histogram]).toEqual([promIndex.Registry, promIndex.Counter, promIndex.Gauge, promIndex.Histogram]);
  expect(limiters.RateLimiterMemory).toBe(flexibleIndex.RateLimiterMemory);
  expect(limiters.RateLimiterRes).toBe(flexibleIndex.RateLimiterRes);
  expect(limiters.loadRateLimiterPostgres()).toBe(flexibleIndex.RateLimiterPostgres);
});
