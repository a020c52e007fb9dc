import { describe, expect, it } from "bun:test";
import { createSecretBox, decodeSecretKey, SecretBoxError } from "./secret-box.ts";

const key = (n: number) => new Uint8Array(32).fill(n);

describe("secret box", () => {
  it("opens what it sealed, with a fresh nonce each time", async () => {
    const box = await createSecretBox(key(1));
    const a = await box.seal("sk-live-1234", "env:FOO");
    const b = await box.seal("sk-live-1234", "env:FOO");
    expect(a).not.toBe(b);
    expect(a).not.toContain("sk-live");
    expect(await box.open(a, "env:FOO")).toBe("sk-live-1234");
  });

  it("refuses a tampered value, a wrong context and an unknown key", async () => {
    const box = await createSecretBox(key(1));
    const sealed = await box.seal("secret", "ctx");
    const tampered = sealed.slice(0, -2) + (sealed.endsWith("A") ? "BB" : "AA");
    await expect(box.open(tampered, "ctx")).rejects.toBeInstanceOf(SecretBoxError);
    await expect(box.open(sealed, "other")).rejects.toBeInstanceOf(SecretBoxError);
    const other = await createSecretBox(key(2));
    await expect(other.open(sealed, "ctx")).rejects.toThrow("unknown key");
  });

  it("opens values sealed under a previous key after rotation", async () => {
    const old = await createSecretBox(key(1));
    const sealed = await old.seal("v", "c");
    const rotated = await createSecretBox(key(2), [key(1)]);
    expect(await rotated.open(sealed, "c")).toBe("v");
  });

  it("decodes hex and base64 keys and refuses other lengths", () => {
    expect(decodeSecretKey("00".repeat(32)).length).toBe(32);
    expect(decodeSecretKey(Buffer.alloc(32, 7).toString("base64")).length).toBe(32);
    expect(() => decodeSecretKey("short")).toThrow(SecretBoxError);
  });

  it("masks to the last four characters", async () => {
    const box = await createSecretBox(key(1));
    expect(box.mask("sk-abcdef1234")).toBe("****1234");
    expect(box.mask("abc")).toBe("****");
  });
});
