import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/auth/schema.pg.ts",
  out: "./src/auth/migrations-pg",
});
