/**
 * What the HTTP profiling drivers (`profile_http.ts`, `profile_load.ts`)
 * share: a `main.ts` served over HTTP on a free port against a gateway,
 * optionally under `--cpu-prof`, and a 2025-11-25 session driven by bare
 * `fetch` (no client SDK).
 *
 * @module
 */
import { baseEnv, INITIALIZE } from "../testing/spawn.ts";

/** A served `main.ts`: its process and base URL. */
export interface ServedHttp {
  /** The server process (its stderr is drained). */
  child: Deno.ChildProcess;
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
}

/**
 * Starts `main` with `--transport http --port 0` against `gatewayUrl`
 * (rate limit off), under `--cpu-prof` into `profileDir` when given, and
 * waits for its `listening` log line.
 */
export async function serveHttp(
  main: string,
  options: { gatewayUrl: string; profileDir?: string },
): Promise<ServedHttp> {
  const profile = options.profileDir;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      main,
      "--transport",
      "http",
      "--port",
      "0",
    ],
    env: {
      ...baseEnv(),
      OPENCLAW_URL: options.gatewayUrl,
      OPENCLAW_GATEWAY_TOKEN: "test-token",
      MCP_RATE_LIMIT: "0",
    },
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  let url = "";
  while (!url) {
    const { value, done } = await reader.read();
    if (done) throw new Error(err);
    err += value;
    url = /"event":"listening","url":"([^"]+)"/.exec(err)?.[1] ?? "";
  }
  (async () => {
    while (!(await reader.read()).done);
  })();
  return { child, url };
}

/** A 2025-11-25 session over bare `fetch`: its `openclaw_chat` call function. */
export async function bareSession(url: string): Promise<(i: number) => Promise<unknown>> {
  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...headers,
      },
      body: JSON.stringify(body),
    });
    return { response, text: await response.text() };
  };
  const init = await post(INITIALIZE);
  const session = {
    "mcp-session-id": init.response.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session);
  return async (i) => {
    const { text } = await post({
      jsonrpc: "2.0",
      id: i,
      method: "tools/call",
      params: { name: "openclaw_chat", arguments: { message: `p ${i}` } },
    }, session);
    if (!text.includes('"result"')) throw new Error(text);
  };
}
