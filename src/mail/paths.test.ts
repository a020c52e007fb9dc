import { describe, expect, it } from "bun:test";
import { AppError } from "../core/errors.ts";
import { normalizeLeasePath, validatePathPrefix } from "./paths.ts";

describe("lease paths", () => {
  const good: [string, string][] = [
    ["src/a.ts", "src/a.ts"],
    ["./src//a.ts", "src/a.ts"],
    ["/src/./lib/", "src/lib"],
    ["café/x", "café/x"],
    ["cafe\u0301/x", "café/x"],
    ["a/.../b", "a/.../b"],
    ["..a/b..", "..a/b.."],
  ];
  for (const [input, want] of good) {
    it(`normalizes ${JSON.stringify(input)} to ${JSON.stringify(want)}`, () => {
      expect(normalizeLeasePath(input)).toBe(want);
    });
  }

  const bad: [string, unknown][] = [
    ["an empty path", ""],
    ["a missing path", undefined],
    ["a path of only slashes and dots", "/./"],
    ["a '..' segment", "src/../etc/passwd"],
    ["a leading '..'", "../x"],
    ["a NUL byte", "src/a\u0000.ts"],
    ["a control character", "src/a\n.ts"],
    ["a backslash", "src\\a.ts"],
    ["a path over 1024 bytes", "a/".repeat(300) + "b".repeat(500)],
    ["a segment over 255 bytes", `x/${"y".repeat(256)}`],
    ["more than 64 segments", Array.from({ length: 65 }, () => "d").join("/")],
    ["a number", 42],
  ];
  for (const [name, input] of bad) {
    it(`refuses ${name} with invalid_argument naming the field`, () => {
      let error: unknown;
      try {
        normalizeLeasePath(input, "path");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("invalid_argument");
      expect((error as AppError).metadata.field).toBe("path");
    });
  }

  it("keeps a trailing slash on a prefix so 'src/' does not match 'src2/'", () => {
    expect(validatePathPrefix("./src//")).toBe("src/");
    expect(validatePathPrefix("src")).toBe("src");
    expect(validatePathPrefix("")).toBe("");
    expect(() => validatePathPrefix("a/../b")).toThrow(AppError);
  });
});
