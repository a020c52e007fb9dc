import { describe, expect, it } from "bun:test";
import { loadConfig } from "../config.ts";
import { createManualClock } from "../core/clock.ts";
import { createRateLimiter } from "./limiter.ts";
import { legacyRouteClasses, parseRateLimits } from "./rate-limit-spec.ts";

describe("rate-limit configuration", () => {
  it("has the seeds' defaults: seed 001 100/min, task creation 50/min, registration 10/min; seed 004 60/min, 1000/h, 5000/day", () => {
    const p = parseRateLimits(undefined);
    const show = (c: string) => p[c]!.map((w) => `${w.limit}/${w.name}`);
    expect(show("seed-001")).toEqual(["100/minute"]);
    expect(show("seed-001-task-create")).toEqual(["50/minute"]);
    expect(show("seed-001-server-register")).toEqual(["10/minute"]);
    expect(show("seed-004")).toEqual(["60/minute", "1000/hour", "5000/day"]);
    expect(p.api).toBeUndefined();
  });

  it("overrides, switches off one class or all, and sorts windows shortest first", () => {
    const p = parseRateLimits("api=10/d,2/30s;seed-004=off");
    expect(p.api!.map((w) => [w.limit, w.windowMs])).toEqual([[2, 30_000], [10, 86_400_000]]);
    expect(p["seed-004"]).toEqual([]);
    expect(parseRateLimits("off")).toEqual({});
  });

  it("refuses bad specifications at startup, naming the variable", () => {
    for (const bad of ["api", "nope=1/m", "api=0/m", "api=5/w", "api=x/m"]) {
      expect(() => loadConfig({ SWITCHYARD_RATE_LIMITS: bad })).toThrow(/SWITCHYARD_RATE_LIMITS/);
    }
  });

  it("puts legacy routes in their family's class, seed 001 creation and registration also in their own", () => {
    expect(legacyRouteClasses("seed-001-tasks", "POST", "/api/task")).toEqual(["seed-001", "seed-001-task-create"]);
    expect(legacyRouteClasses("seed-001-servers", "POST", "/api/servers")).toEqual(["seed-001", "seed-001-server-register"]);
    expect(legacyRouteClasses("seed-004-claude-worker", "GET", "/gh-status")).toEqual(["seed-004"]);
    expect(legacyRouteClasses("seed-004-claude-worker", "POST", "/webhooks/github")).toEqual([]);
    expect(legacyRouteClasses("seed-004", "GET", "/health")).toEqual([]);
  });
});

describe("limiter", () => {
  it("counts per key and window, aligned to the epoch of the injected clock", async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 59));
    const limiter = createRateLimiter({ policy: parseRateLimits("off;api=2/m"), clock });
    expect((await limiter.consume(["api"], "a"))!.binding.remaining).toBe(1);
    expect((await limiter.consume(["api"], "b"))!.binding.remaining).toBe(1);
    expect((await limiter.consume(["api"], "a"))!.allowed).toBe(true);
    const refused = (await limiter.consume(["api"], "a"))!;
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    clock.advance(1000);
    expect((await limiter.consume(["api"], "a"))!).toMatchObject({ allowed: true, binding: { remaining: 1 } });
    expect(await limiter.consume(["seed-003"], "a")).toBeUndefined();
  });
});

describe("client address", () => {
  it("takes the socket's address unless it is a trusted proxy, then the nearest untrusted X-Forwarded-For hop", async () => {
    const { clientAddress } = await import("./client-address.ts");
    const trusted = new Set(["10.0.0.1", "10.0.0.2"]);
    expect(clientAddress("::ffff:192.0.2.7", "198.51.100.1", trusted)).toBe("192.0.2.7");
    expect(clientAddress("::ffff:10.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.2", trusted)).toBe("198.51.100.1");
    expect(clientAddress("10.0.0.1", "10.0.0.2", trusted)).toBe("10.0.0.2");
    expect(clientAddress("10.0.0.1", "not-an-ip", trusted)).toBe("10.0.0.1");
    expect(clientAddress("10.0.0.1", "198.51.100.1", new Set())).toBe("10.0.0.1");
  });
});
