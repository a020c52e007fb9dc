import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/agents/schema.ts",
  out: "./src/agents/migrations",
});
