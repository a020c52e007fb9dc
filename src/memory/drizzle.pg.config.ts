import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/memory/schema.pg.ts",
  out: "./src/memory/migrations-pg",
});
