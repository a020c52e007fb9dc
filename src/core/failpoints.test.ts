import { afterEach, describe, expect, it } from "bun:test";
import { configureFailpoints, failpoint, failpointAsync, FailpointError, parseFailpoints } from "./failpoints.ts";

afterEach(() => configureFailpoints(undefined));

describe("failpoints", () => {
  it("do nothing unless armed", () => {
    expect(() => failpoint("db.commit.before")).not.toThrow();
  });

  it("fire the armed action, a given number of times", async () => {
    configureFailpoints("db.commit.before=2*error;bus.publish.before=delay(20)");
    expect(() => failpoint("db.commit.before")).toThrow(FailpointError);
    expect(() => failpoint("db.commit.before")).toThrow(FailpointError);
    expect(() => failpoint("db.commit.before")).not.toThrow();
    const t0 = performance.now();
    await failpointAsync("bus.publish.before");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
  });

  it("let K-1 passes go by with @K", () => {
    configureFailpoints("db.commit.after=1*error@3");
    failpoint("db.commit.after");
    failpoint("db.commit.after");
    expect(() => failpoint("db.commit.after")).toThrow(FailpointError);
    expect(() => failpoint("db.commit.after")).not.toThrow();
  });

  it("refuse unknown names and malformed actions, listing each", () => {
    expect(() => parseFailpoints("db.nope=kill;db.commit.after=explode")).toThrow(/db\.nope.*explode|explode.*db\.nope/);
  });

  it("kill the process at the point (SIGKILL)", async () => {
    const child = Bun.spawn(["bun", "-e", `const f = await import(${JSON.stringify(import.meta.dir + "/failpoints.ts")}); f.configureFailpoints("db.commit.after=kill"); console.log("before"); f.failpoint("db.commit.after"); console.log("after");`], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(child.stdout).text();
    await child.exited;
    expect(out.trim()).toBe("before");
    expect(child.signalCode).toBe("SIGKILL");
  });
});
