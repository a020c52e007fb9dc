import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../core/errors.ts";
import { describeDialects } from "../testing/dialects.ts";
import { openDialectEngine, type TestEngine } from "./testing.ts";
import { parseQueueConfigYaml } from "./queue-configs.ts";

let t: TestEngine;
let file: string;

const YAML_V1 = `
server:
  port: 8081
queues:
  inference:
    priority: 6
    mode: long_running
    default_timeout_secs: 300
    max_retry: 2
    concurrency: 4
    deployment:
      git_url: "https://github.com/example/repo.git"
      branch: main
  simple:
    priority: 3
    mode: one_shot
`;

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e.reason;
    throw e;
  }
  return "none";
}

describeDialects("task queue configs", (open, dialect) => {
  beforeEach(async () => {
    t = await openDialectEngine(open, dialect);
    file = join(t.dir, "queues.yaml");
  });
  afterEach(async () => {
    await t.close();
  });

  describe("queue configs", () => {
    it("reads runqy's YAML with Switchyard's additions", () => {
      const [inference, simple] = parseQueueConfigYaml(YAML_V1);
      expect(inference).toMatchObject({ name: "inference", priority: 6, mode: "long_running", defaultTimeoutMs: 300_000, defaultMaxAttempts: 3, concurrencyLimit: 4 });
      expect(inference!.deployment).toEqual({ git_url: "https://github.com/example/repo.git", branch: "main" });
      expect(simple).toMatchObject({ name: "simple", priority: 3, mode: "one_shot" });
    });

    it("reloads from the file: adds, updates and removes yaml configs and keeps api ones", async () => {
      await t.engine.createQueueConfig({ name: "manual", priority: 1 });
      writeFileSync(file, YAML_V1);
      const engine = (await import("./engine.ts")).createTaskEngine({ database: t.database, clock: t.clock, config: { queueConfigPath: file } });
      const first = await engine.reloadQueueConfigs();
      expect(first.added.sort()).toEqual(["inference", "simple"]);
      expect(first.configs.map((c) => [c.name, c.source])).toEqual([["inference", "yaml"], ["manual", "api"], ["simple", "yaml"]]);
      writeFileSync(file, YAML_V1.replace("priority: 6", "priority: 8").replace(/  simple:\n.*\n.*\n/, ""));
      const second = await engine.reloadQueueConfigs();
      expect(second).toMatchObject({ added: [], updated: ["inference"], removed: ["simple"] });
      expect((await engine.getQueueConfig("inference")).priority).toBe(8);
      expect((await engine.getQueueConfig("manual")).source).toBe("api");
    });

    it("refuses a file with a bad value and names the key", async () => {
      expect(() => parseQueueConfigYaml("queues:\n  q:\n    priority: high\n")).toThrow("queues.q.priority");
      expect(() => parseQueueConfigYaml("queues:\n  q:\n    mode: sometimes\n")).toThrow("mode");
      expect(() => parseQueueConfigYaml("queues: [1, 2]\n")).toThrow("queues");
    });

    it("answers QUEUE_CONFIG_FILE_MISSING without a readable file", async () => {
      expect(await reasonOf(t.engine.reloadQueueConfigs())).toBe("QUEUE_CONFIG_FILE_MISSING");
    });

    it("creates idempotently by request id, refuses a duplicate, deletes", async () => {
      const a = await t.engine.createQueueConfig({ name: "inference_high", priority: 9 }, "req-1");
      expect(a).toMatchObject({ name: "inference_high", priority: 9, source: "api" });
      expect((await t.engine.createQueueConfig({ name: "inference_high", priority: 9 }, "req-1")).createdAt).toBe(a.createdAt);
      expect(await reasonOf(t.engine.createQueueConfig({ name: "inference_high" }))).toBe("QUEUE_CONFIG_EXISTS");
      expect((await t.engine.listQueueConfigs()).items.map((c) => c.name)).toEqual(["inference_high"]);
      await t.engine.deleteQueueConfig("inference_high");
      expect(await reasonOf(t.engine.deleteQueueConfig("inference_high"))).toBe("QUEUE_CONFIG_NOT_FOUND");
    });
  });

  describe("the deployment block", () => {
    it("reads git_url, branch, startup_cmd, startup_timeout_secs and requirements_file, and refuses a bad one naming the key", () => {
      const [c] = parseQueueConfigYaml(`queues:\n  infer:\n    priority: 2\n    deployment:\n      git_url: https://example.com/r.git\n      branch: main\n      startup_cmd: python main.py\n      startup_timeout_secs: 300\n      requirements_file: requirements.txt\n`);
      expect(c!.deployment).toEqual({ git_url: "https://example.com/r.git", branch: "main", startup_cmd: "python main.py", startup_timeout_secs: 300, requirements_file: "requirements.txt" });
      let err: unknown;
      try {
        parseQueueConfigYaml(`queues:\n  infer:\n    deployment:\n      startup_timeout_secs: soon\n`);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).metadata.key).toBe("queues.infer.deployment.startup_timeout_secs");
    });
  });
});
