import { beforeAll, beforeEach, describe, expect, it } from "bun:test";
import { loadConfig } from "../config.ts";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { createSecretBox } from "../core/secret-box.ts";
import { describeDialects } from "../testing/dialects.ts";
import { sharedPostgres } from "../testing/postgres.ts";
import { createAuth, type Auth } from "./auth.ts";
import { DEVICE_CODE_TTL_MS, DEVICE_GRANT_TYPE } from "./device-flow.ts";
import { normalizeUserCode } from "./tokens.ts";

const owner = { tenant: "acme", userId: "user_1", roles: ["user"] };

describeDialects("auth", (open, dialect) => {
  // Starting the test PostgreSQL (initdb) may take longer than a hook's default 5 s on a busy machine.
  if (dialect === "postgres") beforeAll(async () => void (await sharedPostgres()), 120_000);
  let clock: ReturnType<typeof createManualClock>;
  let auth: Auth;

  // Each test gets a fresh database: a new SQLite file, or a new PostgreSQL database.
  beforeEach(async () => {
    const database = await open();
    clock = createManualClock(Date.UTC(2026, 0, 1));
    const secrets = await createSecretBox(crypto.getRandomValues(new Uint8Array(32)));
    auth = createAuth({ database, clock, secrets, config: loadConfig({}).auth });
  });

  /** The reason a poll was refused with, or "TOKEN" when it answered a session. */
  async function poll(deviceCode: string): Promise<string> {
    try {
      await auth.deviceFlow.poll(DEVICE_GRANT_TYPE, deviceCode);
      return "TOKEN";
    } catch (e) {
      if (e instanceof AppError) return e.reason;
      throw e;
    }
  }

  describe("the device flow (RFC 8628) by the server clock", () => {
    it("answers pending, slow_down when polled early (and widens the interval), then the token once", async () => {
      const d = await auth.deviceFlow.start();
      expect(d).toMatchObject({ expiresInS: 900, intervalS: 5 });
      expect(d.userCode).toMatch(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
      expect(await poll(d.deviceCode)).toBe("AUTHORIZATION_PENDING");
      clock.advance(1000);
      expect(await poll(d.deviceCode)).toBe("SLOW_DOWN");
      // The interval is now 10 s: 6 s later is still too early.
      clock.advance(6000);
      expect(await poll(d.deviceCode)).toBe("SLOW_DOWN");
      clock.advance(15_000);
      expect(await poll(d.deviceCode)).toBe("AUTHORIZATION_PENDING");
      await auth.deviceFlow.authorize(d.userCode.toLowerCase().replace("-", " "), "test", owner);
      clock.advance(20_000);
      const issued = await auth.deviceFlow.poll(DEVICE_GRANT_TYPE, d.deviceCode);
      expect(issued.session).toMatchObject({ tenant: "acme", userId: "user_1", method: "device" });
      expect(await auth.sessions.lookup(issued.token)).toMatchObject({ kind: "session", tenant: "acme", user: "user_1", roles: ["user"] });
      clock.advance(20_000);
      expect(await poll(d.deviceCode)).toBe("DEVICE_CODE_NOT_FOUND");
    });

    it("expires a code after 15 minutes, for the CLI and for the web page", async () => {
      const d = await auth.deviceFlow.start();
      clock.advance(DEVICE_CODE_TTL_MS);
      expect(await poll(d.deviceCode)).toBe("EXPIRED_TOKEN");
      await expect(auth.deviceFlow.authorize(d.userCode, "test", owner)).rejects.toMatchObject({ reason: "EXPIRED_TOKEN" });
      expect((await auth.deviceFlow.lookup(d.userCode, "test")).state).toBe("expired");
    });

    it("expires an authorized code the CLI never collected", async () => {
      const d = await auth.deviceFlow.start();
      await auth.deviceFlow.authorize(d.userCode, "test", owner);
      clock.advance(DEVICE_CODE_TTL_MS + 1);
      expect(await poll(d.deviceCode)).toBe("EXPIRED_TOKEN");
    });

    it("answers access_denied after a deny, and refuses a second answer", async () => {
      const d = await auth.deviceFlow.start();
      await auth.deviceFlow.deny(d.userCode, "test");
      expect(await poll(d.deviceCode)).toBe("ACCESS_DENIED");
      await expect(auth.deviceFlow.authorize(d.userCode, "test", owner)).rejects.toMatchObject({ reason: "DEVICE_ALREADY_ANSWERED" });
    });

    it("refuses other grant types and unknown device codes", async () => {
      await expect(auth.deviceFlow.poll("password", "x")).rejects.toMatchObject({ reason: "UNSUPPORTED_GRANT_TYPE" });
      expect(await poll("no-such-code")).toBe("DEVICE_CODE_NOT_FOUND");
    });

    it("rate-limits wrong user codes per caller", async () => {
      const d = await auth.deviceFlow.start();
      const reasons: string[] = [];
      for (let i = 0; i < 12; i++) {
        await auth.deviceFlow.authorize("BBBB-BBBB", "attacker", owner).catch((e: AppError) => reasons.push(e.reason));
      }
      expect(reasons.slice(0, 10).every((r) => r === "USER_CODE_NOT_FOUND")).toBe(true);
      expect(reasons.slice(10)).toEqual(["RATE_LIMITED", "RATE_LIMITED"]);
      // Even the right code is refused to that caller now; another caller is not affected.
      await expect(auth.deviceFlow.authorize(d.userCode, "attacker", owner)).rejects.toMatchObject({ reason: "RATE_LIMITED" });
      await auth.deviceFlow.authorize(d.userCode, "someone-else", owner);
    });

    it("reads user codes without regard to case, spaces and dashes, and refuses ambiguous letters", () => {
      expect(normalizeUserCode("wdjb-mjht")).toBe("WDJBMJHT");
      expect(normalizeUserCode(" WDJB MJHT ")).toBe("WDJBMJHT");
      expect(normalizeUserCode("WDJB-MJH0")).toBeUndefined();
      expect(normalizeUserCode("AEIO-UWDJ")).toBeUndefined();
    });
  });

  describe("upkeep", () => {
    it("purges sessions and device codes a day after they ended, and keeps live ones", async () => {
      const d = await auth.deviceFlow.start();
      await auth.deviceFlow.authorize(d.userCode, "test", owner);
      const issued = await auth.deviceFlow.poll(DEVICE_GRANT_TYPE, d.deviceCode);
      const revoked = await auth.sessions.open(owner, "device");
      await auth.sessions.revoke("acme", "user_1", revoked.session.id);
      expect(await auth.purge()).toBe(0);
      clock.advance(86_400_000 + 1);
      expect(await auth.purge()).toBe(1); // the revoked session
      clock.advance(DEVICE_CODE_TTL_MS);
      expect(await auth.purge()).toBe(1); // the used device code, a day after it expired
      expect((await auth.sessions.lookup(issued.token))?.user).toBe("user_1");
    });
  });

  describe("sessions", () => {
    it("lists a user's live sessions newest first, page by page, and never another user's", async () => {
      for (let i = 0; i < 3; i++) {
        await auth.sessions.open(owner, "google");
        clock.advance(1000);
      }
      await auth.sessions.open({ ...owner, userId: "user_2" }, "google");
      const first = await auth.sessions.list("acme", "user_1", 2, "");
      expect(first.sessions.length).toBe(2);
      const second = await auth.sessions.list("acme", "user_1", 2, first.nextPageToken);
      expect(second.sessions.length).toBe(1);
      expect(second.nextPageToken).toBe("");
      const all = [...first.sessions, ...second.sessions];
      expect(all.map((s) => s.createdAt)).toEqual([...all.map((s) => s.createdAt)].sort((a, b) => b - a));
      expect(all.every((s) => s.userId === "user_1")).toBe(true);
      expect((await auth.sessions.list("globex", "user_1", 0, "")).sessions).toEqual([]);
      await expect(auth.sessions.list("acme", "user_1", 0, "garbage")).rejects.toThrow("page_token");
      await expect(auth.sessions.revoke("acme", "user_2", all[0]!.id)).rejects.toMatchObject({ reason: "SESSION_NOT_FOUND" });
    });
  });
});
