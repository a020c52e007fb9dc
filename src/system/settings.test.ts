import { expect, it } from "bun:test";
import { createManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { describeDialects } from "../testing/dialects.ts";
import { createSettings } from "./settings.ts";

async function failure(p: Promise<unknown> | (() => unknown)): Promise<AppError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e as AppError;
  }
  throw new Error("expected a failure");
}

describeDialects("settings", (open) => {
  const settings = async () => createSettings(await open(), createManualClock());
  it("stores a value and bumps its version on every write", async () => {
    const s = await settings();
    expect((await s.set("lb.algorithm", "random")).version).toBe(1);
    expect((await s.set("lb.algorithm", "round-robin")).version).toBe(2);
    expect(await s.get("lb.algorithm")).toMatchObject({ value: "round-robin", version: 2 });
  });

  it("writes only at the expected version", async () => {
    const s = await settings();
    await s.set("x", 1, 0);
    expect((await failure(s.set("x", 2, 0))).reason).toBe("VERSION_MISMATCH");
    expect((await s.set("x", 3, 1)).value).toBe(3);
  });

  it("refuses bad names, null values and oversized values, naming the field", async () => {
    const s = await settings();
    expect((await failure(s.set("has space", 1))).metadata.field).toBe("name");
    expect((await failure(s.set("ok", null))).metadata.field).toBe("value");
    expect((await failure(s.set("ok", "x".repeat(70_000)))).metadata.field).toBe("value");
    expect((await failure(() => s.list({ pageSize: 0, pageToken: "garbage", names: [], prefix: "" }))).metadata.field).toBe("page_token");
  });

  it("pages in name order and filters by prefix with LIKE wildcards escaped", async () => {
    const s = await settings();
    for (const n of ["a_1", "a-2", "ab", "b"]) await s.set(n, n);
    expect((await s.list({ pageSize: 0, pageToken: "", names: [], prefix: "a_" })).settings.map((x) => x.name)).toEqual(["a_1"]);
    const first = await s.list({ pageSize: 2, pageToken: "", names: [], prefix: "" });
    const second = await s.list({ pageSize: 2, pageToken: first.nextPageToken, names: [], prefix: "" });
    expect([...first.settings, ...second.settings].map((x) => x.name)).toEqual(["a-2", "a_1", "ab", "b"]);
    expect(second.nextPageToken).toBe("");
    expect((await s.list({ pageSize: 0, pageToken: "", names: ["b", "ab", "zz"], prefix: "" })).settings.map((x) => x.name)).toEqual(["ab", "b"]);
  });

  it("deletes, and reports a missing setting as SETTING_NOT_FOUND", async () => {
    const s = await settings();
    await s.set("gone", true);
    await s.delete("gone");
    expect((await failure(() => s.get("gone"))).reason).toBe("SETTING_NOT_FOUND");
    expect((await failure(s.delete("gone"))).code).toBe("not_found");
  });
});
