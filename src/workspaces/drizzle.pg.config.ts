import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/workspaces/schema.pg.ts",
  out: "./src/workspaces/migrations-pg",
});
