import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/tasks/schema.pg.ts",
  out: "./src/tasks/migrations-pg",
});
