import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/agents/schema.pg.ts",
  out: "./src/agents/migrations-pg",
});
