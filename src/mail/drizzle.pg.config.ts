import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/mail/schema.pg.ts",
  out: "./src/mail/migrations-pg",
});
