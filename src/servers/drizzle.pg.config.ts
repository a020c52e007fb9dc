import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/servers/schema.pg.ts",
  out: "./src/servers/migrations-pg",
});
