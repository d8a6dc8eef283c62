/**
 * Drives one HTTP server with 32 concurrent 2025-11-25 sessions (bare
 * `fetch`, no client SDK) for a while and prints calls per second, for
 * `docs/notes/hot-path.md`:
 *
 * ```sh
 * deno run -A bench/profile_load.ts [profile dir|-] [ms] [main.ts]
 * ```
 *
 * With a directory the server runs under `--cpu-prof` (`-`: unprofiled);
 * `main.ts` may be another tree's (say a `git archive` of another commit),
 * to A/B throughput. Run the trees alternately: this box drifts.
 *
 * @module
 */
import { TestGateway } from "../testing/test_gateway.ts";
import { baseEnv, INITIALIZE, MAIN } from "../testing/spawn.ts";
const gateway = await TestGateway.start();
const dir = Deno.args[0] ?? "/tmp/conc";
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--quiet",
    ...(dir === "-" ? [] : [`--cpu-prof`, `--cpu-prof-dir=${dir}`]),
    Deno.args[2] ?? MAIN,
    "--transport",
    "http",
    "--port",
    "0",
  ],
  env: {
    ...baseEnv(),
    OPENCLAW_URL: gateway.url,
    OPENCLAW_GATEWAY_TOKEN: "test-token",
    MCP_RATE_LIMIT: "0",
  },
  clearEnv: true,
  stdout: "null",
  stderr: "piped",
}).spawn();
const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
let err = "", url = "";
while (!url) {
  const { value, done } = await reader.read();
  if (done) throw new Error(err);
  err += value;
  url = /"event":"listening","url":"([^"]+)"/.exec(err)?.[1] ?? "";
}
(async () => {
  while (!(await reader.read()).done);
})();
async function session() {
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
  const h = {
    "mcp-session-id": init.response.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  await post({ jsonrpc: "2.0", method: "notifications/initialized" }, h);
  return async (i: number) => {
    const { text } = await post({
      jsonrpc: "2.0",
      id: i,
      method: "tools/call",
      params: { name: "openclaw_chat", arguments: { message: `p ${i}` } },
    }, h);
    if (!text.includes('"result"')) throw new Error(text);
  };
}
const clients = await Promise.all(Array.from({ length: 32 }, session));
const end = Date.now() + Number(Deno.args[1] ?? 15000);
let n = 0;
const t0 = performance.now();
await Promise.all(clients.map(async (c) => {
  let i = 0;
  while (Date.now() < end) {
    await c(i++);
    n++;
  }
}));
console.log(`${n} calls, ${(n / ((performance.now() - t0) / 1000)).toFixed(0)}/s`);
child.kill("SIGTERM");
await child.status;
await gateway.close();
