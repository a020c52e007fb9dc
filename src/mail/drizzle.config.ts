import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/mail/schema.ts",
  out: "./src/mail/migrations",
});
