import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/system/schema.pg.ts",
  out: "./src/system/migrations-pg",
});
