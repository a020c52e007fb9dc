// The device flow's verification page in a real browser (Chromium through playwright-core): the
// person opens verification_uri_complete, pastes their access token, clicks Authorize, and the
// CLI's next poll gets a token. Skipped, saying so, when no Chromium is installed.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { nowS, signHs256 } from "../../src/testing/jwt.ts";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

const SECRET = "page-test-jwt-secret-0123456789";
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => existsSync(p));
if (!CHROMIUM) console.log("identity-verification-page: no Chromium installed; the browser test is skipped");

describe.skipIf(!CHROMIUM)("the verification page in a browser", () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer({ SWITCHYARD_JWT_SECRET: SECRET });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const post = async (path: string, body: unknown) =>
    (await (await fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as any;

  it("authorizes a device with a pasted bearer token; a wrong code says so", async () => {
    const d = await post("/v1/oauth/device", {});
    const token = await signHs256(SECRET, { sub: "pat", tenant: "acme", exp: nowS() + 600 });
    const page = await browser.newPage();
    await page.goto(d.verification_uri_complete);
    expect(await page.inputValue("[name=user_code]")).toBe(d.user_code);
    await page.fill("[name=token]", token);
    await page.click("button[value=authorize]");
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.includes("authorized"), undefined, { timeout: 15_000 });
    const exchanged = await post("/v1/oauth/token", { grant_type: "urn:ietf:params:oauth:grant-type:device_code", device_code: d.device_code });
    expect(exchanged.token_type).toBe("Bearer");
    expect(exchanged.user.id).toBe("pat");

    await page.fill("[name=user_code]", "BCDF-GHJK");
    await page.click("button[value=authorize]");
    await page.waitForFunction(() => document.getElementById("status")?.textContent?.includes("no device authorization"), undefined, { timeout: 15_000 });
    await page.close();
  }, 60_000);
});
