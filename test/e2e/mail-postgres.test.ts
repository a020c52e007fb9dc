// File leases through two real servers on one PostgreSQL database and one nats-server: one
// holder per path across the servers, strictly increasing fencing tokens, and lease events that
// reach the watchers of both servers, each once.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { LeaseService } from "../../gen/switchyard/mail/v1/lease_service_pb.js";
import { LeaseEventType } from "../../gen/switchyard/mail/v1/mail_pb.js";
import { MailService } from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import { take } from "../../src/testing/async.ts";
import { clientFor } from "../../src/testing/clients.ts";
import { startNatsServer, type NatsServer } from "../../src/testing/nats-server.ts";
import { freshPostgresUrl } from "../../src/testing/postgres.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

const wanted = (process.env.SWITCHYARD_TEST_DIALECTS ?? "sqlite,postgres").split(",").includes("postgres");

(wanted ? describe : describe.skip)("leases through two servers on one PostgreSQL", () => {
  let nats: NatsServer;
  let servers: TestServer[] = [];
  beforeAll(async () => {
    nats = await startNatsServer();
    const url = await freshPostgresUrl("mail_e2e");
    for (let i = 0; i < 2; i++) servers.push(await startTestServer({ SWITCHYARD_DATABASE_URL: url, NATS_URL: nats.url }));
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) await s.close();
    servers = [];
    await nats?.stop();
  });

  it("gives a contended path to one client per round across both servers; both servers' watchers see every event once", async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const leases = [clientFor(LeaseService, a.url, "grpc"), clientFor(LeaseService, b.url, "connect")];
    // Watch from the next sequence of the shared MAIL stream, on both servers.
    const probe = await clientFor(MailService, a.url, "grpc").publish({ destination: { case: "topic", value: "probe.start" }, sender: "tester" });
    const from = probe.message!.sequence + 1n;
    const aborts = [new AbortController(), new AbortController()];
    const watchers = leases.map((c, i) => c.watchLeaseEvents({ prefix: "e2e/", startSequence: from }, { signal: aborts[i]!.signal })[Symbol.asyncIterator]());
    const rounds = 30;
    const tokens: bigint[] = [];
    for (let round = 0; round < rounds; round++) {
      const settled = await Promise.allSettled([0, 1, 2, 3].map((i) => leases[i % 2]!.acquireLease({ path: "e2e/hot.ts", holder: `agent-${i}`, ttl: { seconds: 60n, nanos: 0 } })));
      const won = settled.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<{ lease?: { fencingToken: bigint } }>).value.lease!);
      expect(won).toHaveLength(1);
      for (const r of settled) if (r.status === "rejected") expect(String((r as PromiseRejectedResult).reason)).toContain("leased by");
      const token = won[0]!.fencingToken;
      if (tokens.length) expect(token).toBeGreaterThan(tokens[tokens.length - 1]!);
      tokens.push(token);
      await leases[(round + 1) % 2]!.releaseLease({ path: "e2e/hot.ts", fencingToken: token });
    }
    const expected = tokens.flatMap((t) => [
      [LeaseEventType.ACQUIRED, t],
      [LeaseEventType.RELEASED, t],
    ]);
    const seen = await Promise.all(watchers.map((w) => take(w, expected.length, 30_000)));
    for (const a of aborts) a.abort();
    for (const events of seen) {
      expect(events.map((r) => [r.event!.type, r.event!.lease!.fencingToken])).toEqual(expected);
      const seqs = events.map((r) => r.event!.sequence);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual(seen[0]!.map((r) => r.event!.sequence));
    }
  }, 90_000);
});
