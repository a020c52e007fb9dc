import { describe, expect, it } from "bun:test";
import { ConfigError, loadConfig } from "./config.ts";

describe("loadConfig", () => {
  it("runs on the embedded defaults with no variable set", () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.databasePath).toEndWith("data/switchyard.db");
    expect(c.apiToken).toBeUndefined();
    expect(c.natsUrl).toBeUndefined();
    expect(c.corsOrigins).toEqual(["*"]);
  });

  it("lists every bad variable at once", () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        SWITCHYARD_PORT: "70000",
        SWITCHYARD_API_TOKEN: "short",
        SWITCHYARD_LOG_LEVEL: "loud",
        SWITCHYARD_CORS_ORIGINS: "https://ok.example,https://bad.example/path",
        QDRANT_URL: "not a url",
        SWITCHYARD_POTR: "8080",
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const names = error!.problems.map((p) => p.split(":")[0]);
    expect(names.sort()).toEqual(
      ["QDRANT_URL", "SWITCHYARD_API_TOKEN", "SWITCHYARD_CORS_ORIGINS", "SWITCHYARD_LOG_LEVEL", "SWITCHYARD_PORT", "SWITCHYARD_POTR"].sort(),
    );
  });

  it("starts in a shell where the CLI's and SDKs' own variables are set", () => {
    expect(loadConfig({ SWITCHYARD_SERVER: "http://x:1", SWITCHYARD_CONFIG: "/tmp/c.json", SWITCHYARD_QUEUE: "q", SWITCHYARD_WORKER_ID: "w" }).port).toBe(8080);
    expect(() => loadConfig({ SWITCHYARD_SERVR: "http://x:1" })).toThrow(ConfigError);
  });

  it("reads every documented variable", () => {
    const c = loadConfig({
      SWITCHYARD_PORT: "9000",
      SWITCHYARD_DATA_DIR: "/tmp/sy",
      SWITCHYARD_API_TOKEN: "a-token-of-twenty-chars",
      NATS_URL: "nats://127.0.0.1:4222",
      SWITCHYARD_MAX_CONCURRENT_STREAMS: "64",
    });
    expect(c).toMatchObject({ port: 9000, databasePath: "/tmp/sy/switchyard.db", apiToken: "a-token-of-twenty-chars", natsUrl: "nats://127.0.0.1:4222", maxConcurrentStreams: 64 });
  });
});

describe("the README", () => {
  it("documents every configuration variable", async () => {
    const { VARIABLES } = await import("./config.ts");
    const readme = await Bun.file(new URL("../README.md", import.meta.url)).text();
    for (const name of Object.keys(VARIABLES)) expect(readme).toContain(`| \`${name}\` |`);
  });
});
