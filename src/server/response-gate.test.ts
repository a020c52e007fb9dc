import { describe, expect, it } from "bun:test";
import { EventEmitter } from "node:events";
import { AppError } from "../core/errors.ts";
import type { NodeResponse } from "./http-io.ts";
import { createResponseGate } from "./response-gate.ts";

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
});
