import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/insights/schema.pg.ts",
  out: "./src/insights/migrations-pg",
});
