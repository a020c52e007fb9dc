// Where the CLI finds its server and token: flags, then the environment, then the config file
// written by `switchyard login`.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export interface StoredConfig {
  server?: string;
  token?: string;
}

export const DEFAULT_SERVER = "http://localhost:8080";

/** `$SWITCHYARD_CONFIG`, else `$XDG_CONFIG_HOME/switchyard/config.json`, else `~/.config/switchyard/config.json`. */
export function configPath(env: Record<string, string | undefined>): string {
  if (env.SWITCHYARD_CONFIG) return env.SWITCHYARD_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "switchyard", "config.json");
}

export function readConfig(path: string): StoredConfig {
  if (!existsSync(path)) return {};
  try {
    const v = JSON.parse(readFileSync(path, "utf8"));
    return typeof v === "object" && v ? v : {};
  } catch {
    throw new Error(`config file ${path} is not valid JSON`);
  }
}

/** Writes the config file readable by its owner only (it holds a token). */
export function writeConfig(c: StoredConfig, path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(c, null, 2) + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function removeConfigToken(path: string): boolean {
  const c = readConfig(path);
  if (!c.token) return false;
  delete c.token;
  if (Object.keys(c).length === 0) rmSync(path, { force: true });
  else writeConfig(c, path);
  return true;
}

/** The server and token a command uses. */
export function resolveTarget(flags: { server?: string; token?: string }, env: Record<string, string | undefined>): { server: string; token?: string } {
  const stored = readConfig(configPath(env));
  const server = (flags.server || env.SWITCHYARD_SERVER || stored.server || DEFAULT_SERVER).replace(/\/+$/, "");
  const token = flags.token || env.SWITCHYARD_API_TOKEN || stored.token || undefined;
  return { server: /^https?:\/\//.test(server) ? server : `http://${server}`, token };
}
