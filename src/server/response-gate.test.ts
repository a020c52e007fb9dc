import { describe, expect, it } from "bun:test";
import { EventEmitter } from "node:events";
import { AppError } from "../core/errors.ts";
import type { NodeResponse } from "./http-io.ts";
import { createResponseGate, LARGE_ANSWER } from "./response-gate.ts";

const MiB = 1024 * 1024;
const res = () => new EventEmitter() as unknown as NodeResponse & EventEmitter;
const never = new AbortController().signal;

describe("the response gate", () => {
  it("lets small answers run side by side by the thousand (writes keep sharing group commits)", async () => {
    const gate = createResponseGate({ maxBytes: 32 * MiB, maxConcurrent: 1024, maxWaitMs: 50 });
    const turns = await Promise.all(Array.from({ length: 1000 }, () => gate.enter(never, "GET /v1/system/info")));
    expect(turns).toHaveLength(1000);
    for (const t of turns) t.leave();
    expect(gate.bytesInFlight).toBe(0);
  });

  it("runs a route that answers 4 MB a few at a time, and sheds a request that waits too long", async () => {
    const gate = createResponseGate({ maxBytes: 32 * MiB, maxConcurrent: 1024, maxWaitMs: 50 });
    const first = await gate.enter(never, "GET /v1/tasks");
    const r = res();
    first.sending(r, 4 * MiB); // the route now weighs 4 MB
    const admitted = [];
    for (let i = 0; i < 7; i++) admitted.push(await gate.enter(never, "GET /v1/tasks"));
    expect(gate.bytesInFlight).toBe(32 * MiB);
    const refused = await gate.enter(never, "GET /v1/tasks").catch((e) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).reason).toBe("RESPONSES_IN_FLIGHT");
    // Once the first answer is flushed, a waiting request gets its turn.
    const waiting = gate.enter(never, "GET /v1/tasks");
    r.emit("finish");
    expect(await waiting).toBeDefined();
  });

  it("serves an answer larger than the budget when nothing else is in flight", async () => {
    const gate = createResponseGate({ maxBytes: 1 * MiB, maxConcurrent: 4, maxWaitMs: 50 });
    const t = await gate.enter(never, "big");
    t.sending(res(), 3 * MiB);
    expect(gate.bytesInFlight).toBe(3 * MiB);
  });

  it("collects garbage after every few budgets' worth of large answers flushed, never for small ones", async () => {
    let collections = 0;
    const gate = createResponseGate({ maxBytes: 8 * MiB, maxConcurrent: 1024, maxWaitMs: 50, collectEveryBytes: 16 * MiB, collect: () => collections++ });
    const send = async (key: string, size: number) => {
      const t = await gate.enter(never, key);
      const r = res();
      t.sending(r, size);
      r.emit("finish");
    };
    // 64 MiB of small answers: nothing.
    for (let i = 0; i < 4096; i++) await send("small", LARGE_ANSWER / 16);
    expect(collections).toBe(0);
    // Large answers: one collection per 16 MiB flushed (an answer counts once, when flushed).
    for (let i = 0; i < 3; i++) await send("large", 4 * MiB);
    expect(collections).toBe(0);
    await send("large", 4 * MiB);
    expect(collections).toBe(1);
    for (let i = 0; i < 8; i++) await send("large", 4 * MiB);
    expect(collections).toBe(3);
    // An answer left without sending (an error) is not counted.
    (await gate.enter(never, "large")).leave();
    expect(collections).toBe(3);
    expect(gate.bytesInFlight).toBe(0);
  });
});
