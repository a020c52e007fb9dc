import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { BusOverflowError, type Bus, type BusMessage, type BusSubscription, type StreamConfig } from "./bus.ts";

/** What a contract run needs from an implementation. */
export interface BusFixture {
  bus: Bus;
  /** Lets time pass for the bus (a manual clock's advance, or a real sleep). */
  elapse(ms: number): Promise<void>;
  /** The smallest max age the implementation honours promptly (ms). */
  minAgeMs?: number;
  close(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (m: BusMessage) => dec.decode(m.data);

let counter = 0;
/** A stream no other test uses (NATS runs share one server). */
function freshStream(extra: Partial<StreamConfig> = {}): StreamConfig {
  counter++;
  const id = `${Date.now().toString(36)}${counter}`;
  return { name: `T${id}`, subjects: `t${id}.>`, ...extra };
}

/** Reads `n` messages from a subscription, failing after `timeoutMs`. */
export async function take(sub: BusSubscription, n: number, timeoutMs = 5000): Promise<BusMessage[]> {
  const out: BusMessage[] = [];
  if (n === 0) return out;
  const iterator = sub[Symbol.asyncIterator]();
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = deadline - Date.now();
    const next = await Promise.race([
      iterator.next(),
      Bun.sleep(Math.max(left, 0)).then(() => "timeout" as const),
    ]);
    if (next === "timeout") throw new Error(`timed out after ${out.length} of ${n} messages`);
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

/** Resolves with what arrives within `ms` (used to show nothing more arrives). */
async function drainFor(iterator: AsyncIterator<BusMessage>, ms: number): Promise<BusMessage[]> {
  const out: BusMessage[] = [];
  const deadline = Date.now() + ms;
  while (true) {
    const left = deadline - Date.now();
    if (left <= 0) return out;
    const next = await Promise.race([iterator.next(), Bun.sleep(left).then(() => "timeout" as const)]);
    if (next === "timeout" || next.done) return out;
    out.push(next.value);
  }
}

/** The one contract every Bus implementation must pass. */
export function describeBus(name: string, makeFixture: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let f: BusFixture;
    let bus: Bus;
    beforeEach(async () => {
      f = await makeFixture();
      bus = f.bus;
    });
    afterEach(async () => {
      await f.close();
    });

    async function stream(extra: Partial<StreamConfig> = {}) {
      const s = freshStream(extra);
      await bus.ensureStream(s);
      const prefix = s.subjects.slice(0, -2);
      return { ...s, prefix, subject: (rest: string) => `${prefix}.${rest}` };
    }

    it("numbers the messages of a stream from 1 across all its subjects", async () => {
      const s = await stream();
      const a = await bus.publish(s.subject("a"), enc.encode("1"));
      const b = await bus.publish(s.subject("b.c"), enc.encode("2"));
      expect([a.seq, b.seq]).toEqual([1, 2]);
      expect(a.stream).toBe(s.name);
      expect(a.duplicate).toBe(false);
      expect(await bus.lastSeq(s.name)).toBe(2);
    });

    it("delivers new messages to a subscriber from now, in order, with subject, data and headers", async () => {
      const s = await stream();
      await bus.publish(s.subject("x"), enc.encode("before"));
      const sub = bus.subscribe(`${s.prefix}.>`);
      // Let the subscription register before publishing (a "now" start).
      await Bun.sleep(50);
      for (let i = 0; i < 5; i++) await bus.publish(s.subject("x"), enc.encode(`m${i}`), { headers: { "Content-Type": "text/plain", n: String(i) } });
      const got = await take(sub, 5);
      sub.close();
      expect(got.map(text)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
      expect(got.map((m) => m.seq)).toEqual([2, 3, 4, 5, 6]);
      expect(got[0]!.subject).toBe(s.subject("x"));
      expect(got[0]!.headers).toEqual({ "Content-Type": "text/plain", n: "0" });
      expect(got[0]!.stream).toBe(s.name);
      expect(got[0]!.time).toBeGreaterThan(0);
    });

    it("matches '*' to one token and '>' to one or more trailing tokens", async () => {
      const s = await stream();
      const star = bus.subscribe(`${s.prefix}.a.*`, { from: { kind: "sequence", seq: 1 } });
      const tail = bus.subscribe(`${s.prefix}.a.>`, { from: { kind: "sequence", seq: 1 } });
      for (const subj of ["a", "a.b", "a.b.c", "b.x", "a.d"]) await bus.publish(s.subject(subj), enc.encode(subj));
      expect((await take(star, 2)).map(text)).toEqual(["a.b", "a.d"]);
      expect((await take(tail, 3)).map(text)).toEqual(["a.b", "a.b.c", "a.d"]);
      star.close();
      tail.close();
    });

    it("replays from a sequence, then continues live without a gap or a duplicate", async () => {
      const s = await stream();
      for (let i = 1; i <= 5; i++) await bus.publish(s.subject("r"), enc.encode(`m${i}`));
      const sub = bus.subscribe(`${s.prefix}.r`, { from: { kind: "sequence", seq: 3 } });
      const first = await take(sub, 3);
      await bus.publish(s.subject("r"), enc.encode("m6"));
      const next = await take(sub, 1);
      sub.close();
      expect([...first, ...next].map((m) => m.seq)).toEqual([3, 4, 5, 6]);
    });

    it("replays from a time: the messages published at or after it", async () => {
      const s = await stream();
      await bus.publish(s.subject("t"), enc.encode("old"));
      await f.elapse(50);
      const since = (await bus.history(`${s.prefix}.>`, { limit: 10 }))[0]!.time + 25;
      await f.elapse(50);
      await bus.publish(s.subject("t"), enc.encode("new1"));
      await bus.publish(s.subject("t"), enc.encode("new2"));
      const sub = bus.subscribe(`${s.prefix}.t`, { from: { kind: "time", time: since } });
      expect((await take(sub, 2)).map(text)).toEqual(["new1", "new2"]);
      sub.close();
    });

    it("gives a subscriber that reconnects with its last sequence exactly what it missed", async () => {
      const s = await stream();
      const first = bus.subscribe(`${s.prefix}.>`, { from: { kind: "sequence", seq: 1 } });
      for (let i = 1; i <= 10; i++) await bus.publish(s.subject("q"), enc.encode(`m${i}`));
      const seen = await take(first, 4);
      const last = first.lastSeq;
      first.close();
      expect(last).toBe(4);
      for (let i = 11; i <= 15; i++) await bus.publish(s.subject("q"), enc.encode(`m${i}`));
      const again = bus.subscribe(`${s.prefix}.>`, { from: { kind: "sequence", seq: last + 1 } });
      const rest = await take(again, 11);
      const it2 = again[Symbol.asyncIterator]();
      expect(await drainFor(it2, 100)).toEqual([]);
      again.close();
      const all = [...seen, ...rest].map((m) => m.seq);
      expect(all).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    });

    it("loses and repeats nothing when messages are published while a replay is running", async () => {
      const s = await stream();
      for (let i = 0; i < 300; i++) await bus.publish(s.subject("p"), enc.encode(String(i)));
      const sub = bus.subscribe(`${s.prefix}.p`, { from: { kind: "sequence", seq: 1 }, bufferSize: 16 });
      const publishing = (async () => {
        for (let i = 300; i < 500; i++) await bus.publish(s.subject("p"), enc.encode(String(i)));
      })();
      const got = await take(sub, 500, 15_000);
      await publishing;
      sub.close();
      expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    });

    it("ends a slow subscriber with an overflow error while a fast one receives everything", async () => {
      const s = await stream();
      const slow = bus.subscribe(`${s.prefix}.>`, { bufferSize: 10 });
      const fast = bus.subscribe(`${s.prefix}.>`, { bufferSize: 10 });
      const slowIt = slow[Symbol.asyncIterator]();
      const fastIt = fast[Symbol.asyncIterator]();
      // Start both iterators (registers them) and let the subscriptions settle.
      const slowFirst = slowIt.next();
      const fastGot: BusMessage[] = [];
      const fastDone = (async () => {
        let r = await fastIt.next();
        while (!r.done) {
          fastGot.push(r.value);
          if (fastGot.length === 100) break;
          r = await fastIt.next();
        }
      })();
      await Bun.sleep(50);
      for (let i = 0; i < 100; i++) await bus.publish(s.subject("o"), enc.encode(String(i)));
      await fastDone;
      expect(fastGot.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      // The slow one got its first message, then fell behind by more than 10.
      expect((await slowFirst).value?.seq).toBe(1);
      let error: unknown;
      try {
        for (let r = await slowIt.next(); !r.done; r = await slowIt.next());
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BusOverflowError);
      expect((error as BusOverflowError).lastSeq).toBe(1);
      fast.close();
    });

    it("stores a publish with a repeated message id once and answers the first sequence", async () => {
      const s = await stream();
      const a = await bus.publish(s.subject("d"), enc.encode("x"), { msgId: "req-1" });
      const b = await bus.publish(s.subject("d"), enc.encode("x"), { msgId: "req-1" });
      const c = await bus.publish(s.subject("d"), enc.encode("y"), { msgId: "req-2" });
      expect(a).toMatchObject({ seq: 1, duplicate: false });
      expect(b).toMatchObject({ seq: 1, duplicate: true });
      expect(c).toMatchObject({ seq: 2, duplicate: false });
      expect((await bus.history(`${s.prefix}.>`, { limit: 10 })).map(text)).toEqual(["x", "y"]);
    });

    it("keeps at most max_msgs messages, dropping the oldest", async () => {
      const s = await stream({ maxMsgs: 5 });
      for (let i = 1; i <= 8; i++) await bus.publish(s.subject("k"), enc.encode(String(i)));
      const h = await bus.history(`${s.prefix}.>`, { limit: 100 });
      expect(h.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
      expect(await bus.getMessage(s.name, 2)).toBeUndefined();
      expect(await bus.lastSeq(s.name)).toBe(8);
    });

    it("forgets messages older than max_age", async () => {
      const age = f.minAgeMs ?? 200;
      const s = await stream({ maxAgeMs: age });
      await bus.publish(s.subject("a"), enc.encode("1"));
      await bus.publish(s.subject("a"), enc.encode("2"));
      expect(await bus.history(`${s.prefix}.>`, { limit: 10 })).toHaveLength(2);
      await f.elapse(age * 3);
      expect(await bus.history(`${s.prefix}.>`, { limit: 10 })).toEqual([]);
      expect(await bus.getMessage(s.name, 1)).toBeUndefined();
      const next = await bus.publish(s.subject("a"), enc.encode("3"));
      expect(next.seq).toBe(3);
    });

    it("pages history by sequence and filters it by pattern", async () => {
      const s = await stream();
      for (let i = 1; i <= 10; i++) await bus.publish(s.subject(i % 2 ? "odd" : "even"), enc.encode(String(i)));
      const p1 = await bus.history(`${s.prefix}.odd`, { limit: 3 });
      const p2 = await bus.history(`${s.prefix}.odd`, { limit: 3, afterSeq: p1[p1.length - 1]!.seq });
      expect(p1.map(text)).toEqual(["1", "3", "5"]);
      expect(p2.map(text)).toEqual(["7", "9"]);
      const m = await bus.getMessage(s.name, 4);
      expect(m && text(m)).toBe("4");
      expect(m?.subject).toBe(s.subject("even"));
    });

    it("delivers subjects outside every stream live only, with sequence 0", async () => {
      const subject = `live${Date.now().toString(36)}${++counter}.ping`;
      const sub = bus.subscribe(subject);
      await Bun.sleep(50);
      const ack = await bus.publish(subject, enc.encode("hi"));
      expect(ack).toMatchObject({ seq: 0, stream: "" });
      const [m] = await take(sub, 1);
      expect(m).toMatchObject({ seq: 0, subject });
      expect(() => bus.subscribe(subject, { from: { kind: "sequence", seq: 1 } })).toThrow();
      sub.close();
    });

    it("ends the iteration when the subscription is closed", async () => {
      const s = await stream();
      const sub = bus.subscribe(`${s.prefix}.>`);
      const it1 = sub[Symbol.asyncIterator]();
      const pending = it1.next();
      await Bun.sleep(20);
      sub.close();
      expect((await pending).done).toBe(true);
    });

    it("refuses bad subjects and patterns", async () => {
      await expect(bus.publish("a.*", enc.encode(""))).rejects.toThrow();
      await expect(bus.publish("a..b", enc.encode(""))).rejects.toThrow();
      expect(() => bus.subscribe("a.>.b")).toThrow();
      expect(() => bus.subscribe("")).toThrow();
    });
  });
}
