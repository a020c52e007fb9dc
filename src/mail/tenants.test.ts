import { afterEach, beforeEach, expect, it } from "bun:test";
import { describeDialects } from "../testing/dialects.ts";
import { AppError } from "../core/errors.ts";
import { createMailFixture, takeN, type MailFixture } from "./testing.ts";

describeDialects("tenants in the mail domain (forTenant)", (openDatabase) => {
  let f: MailFixture;
  beforeEach(async () => {
    f = await createMailFixture({ database: await openDatabase() });
  });
  afterEach(() => f.close());

  it("keeps topics, history, sequences and idempotency keys per tenant", async () => {
    const a = f.mail.messages.forTenant("acme");
    const b = f.mail.messages.forTenant("globex");
    const sub = b.subscribe({ topic: ">" });
    const m = (await a.publish({ topic: "builds.done", payload: "a-secret", sender: "alice", requestId: "r1" })).message;
    const again = await b.publish({ topic: "builds.done", payload: "b-own", sender: "alice", requestId: "r1" });
    expect(again.duplicate).toBe(false);
    expect(again.message.topic).toBe("builds.done");
    expect((await b.listMessages({ topic: ">" })).messages.map((x) => x.payload)).toEqual(["b-own"]);
    expect((await a.listMessages({ topic: "builds.*" })).messages.map((x) => x.payload)).toEqual(["a-secret"]);
    expect((await f.mail.messages.listMessages({ topic: ">" })).messages).toEqual([]);
    await expect(b.getMessage(m.sequence)).rejects.toMatchObject({ reason: "MESSAGE_NOT_FOUND" });
    expect((await a.getMessage(m.sequence)).payload).toBe("a-secret");
    expect((await takeN(sub, 1)).map((x) => x.payload)).toEqual(["b-own"]);
    sub.close();
  });

  it("keeps lease paths per tenant, and the sweeper announces each expiry in its own tenant", async () => {
    const a = f.mail.leases.forTenant("acme");
    const b = f.mail.leases.forTenant("globex");
    const la = await a.acquire({ path: "src/x.ts", holder: "alice", ttlMs: 1000 });
    const lb = await b.acquire({ path: "src/x.ts", holder: "bob", ttlMs: 5000 });
    expect(lb.fencingToken).toBeGreaterThan(la.fencingToken);
    expect((await b.get("src/x.ts"))?.holder).toBe("bob");
    expect((await a.list({})).leases.map((l) => l.holder)).toEqual(["alice"]);
    const refused = await b.release({ path: "src/x.ts", fencingToken: la.fencingToken }).catch((e: AppError) => e.reason);
    expect(refused).toBe("LEASE_LOST");
    const watchB = b.watch({});
    f.clock.advance(2000);
    const swept = await f.mail.leases.sweepExpired();
    expect(swept.map((l) => l.holder)).toEqual(["alice"]);
    const expiredInA = await f.mail.messages.forTenant("acme").listMessages({ topic: "leases.expired" });
    expect(expiredInA.messages.length).toBe(1);
    expect((await f.mail.messages.forTenant("globex").listMessages({ topic: "leases.expired" })).messages).toEqual([]);
    watchB.close();
  });
});
