import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/edge/schema.pg.ts",
  out: "./src/edge/migrations-pg",
});
