/**
 * Opening the Deno KV database that holds tasks.
 *
 * @module
 */
import { ConfigError } from "../config.ts";

/**
 * The per-user default KV path: `$XDG_DATA_HOME/openclaw-mcp/tasks.kv`
 * (else `~/.local/share/...`, `~/Library/Application Support/...` on macOS,
 * `%LOCALAPPDATA%\...` on Windows). Independent of where the code lives, so a
 * `jsr:` run keeps its tasks across versions.
 */
export function defaultKvPath(env: Record<string, string | undefined>, os = Deno.build.os): string {
  const sep = os === "windows" ? "\\" : "/";
  let base = env.XDG_DATA_HOME;
  if (!base && os === "windows") base = env.LOCALAPPDATA ?? env.APPDATA;
  if (!base && os === "darwin" && env.HOME) base = `${env.HOME}/Library/Application Support`;
  if (!base && env.HOME) base = `${env.HOME}/.local/share`;
  if (!base) {
    throw new ConfigError(
      "no data directory for the task store (HOME is not set); set OPENCLAW_KV_PATH or --kv-path",
    );
  }
  return [base, "openclaw-mcp", "tasks.kv"].join(sep);
}

/**
 * Opens KV at `path` (`:memory:` allowed), creating its folder.
 *
 * @throws {ConfigError} when KV is unavailable (no `--unstable-kv`) or the path cannot be opened.
 */
export async function openTaskKv(path: string): Promise<Deno.Kv> {
  if (typeof Deno.openKv !== "function") {
    throw new ConfigError(
      "Deno KV is not enabled; add --unstable-kv, e.g. deno run -A --unstable-kv jsr:@openclaw/mcp",
    );
  }
  if (path !== ":memory:" && !/^https?:\/\//.test(path)) {
    const dir = path.replace(/[\\/][^\\/]*$/, "");
    if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true }).catch(() => {});
  }
  try {
    return await Deno.openKv(path);
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(
      `OPENCLAW_KV_PATH/--kv-path ${
        JSON.stringify(path)
      } cannot be opened (${why}); choose a writable file path`,
    );
  }
}
