/**
 * The HTTP path's own cost, in process: `openclaw_chat` calls of one
 * 2025-11-25 session sent straight to `app.fetch` (no socket on the MCP
 * side, no client SDK), interleaved with direct gateway calls, against the
 * loopback test gateway. Less noisy than the cross-process rows of
 * `bench/run.ts`, so it can tell changes of a few tens of µs apart:
 *
 * ```sh
 * deno run -A bench/http_path.ts [calls] [other tree's src/ ...]
 * ```
 *
 * Each further path is the `src/` of another tree (say a `git archive` of
 * another commit); its app is served too and interleaved with this one's.
 *
 * @module
 */
import { TestGateway } from "../testing/test_gateway.ts";
import { gatewayEnv, INITIALIZE } from "../testing/spawn.ts";

const calls = Number(Deno.args[0] ?? 5000);
const srcs = [
  new URL("../src/", import.meta.url).href,
  ...Deno.args.slice(1).map((p) => `file://${p.replace(/\/?$/, "/")}`),
];

const gateway = await TestGateway.start();
const info = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;
const ORIGIN = "http://127.0.0.1:3000";
const HEADERS = {
  host: "127.0.0.1:3000",
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

interface Leg {
  src: string;
  send: (i: number) => Promise<void>;
  samples: number[];
}

async function leg(src: string): Promise<Leg> {
  const { loadConfig } = await import(`${src}config.ts`);
  const { startBridge } = await import(`${src}bridge.ts`);
  const { createApp } = await import(`${src}http/app.ts`);
  const { silentLogger } = await import(`${src}log.ts`);
  const command = loadConfig({
    args: ["--transport", "http"],
    env: { ...gatewayEnv(gateway.url), MCP_RATE_LIMIT: "0" },
  });
  const kv = await Deno.openKv(":memory:");
  const bridge = startBridge(command.config, { kv, log: silentLogger });
  const http = await createApp({
    config: command.config,
    createServer: bridge.serverFor,
    gateways: bridge.gateways,
    kv,
    log: silentLogger,
    issuer: () => ORIGIN,
  });
  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const response: Response = await http.app.fetch(
      new Request(`${ORIGIN}/mcp`, {
        method: "POST",
        headers: { ...HEADERS, ...headers },
        body: JSON.stringify(body),
      }),
      info,
    );
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${response.status}: ${text}`);
    return { response, text };
  };
  const init = await post(INITIALIZE);
  const session = {
    "mcp-session-id": init.response.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session);
  return {
    src,
    samples: [],
    send: async (i) => {
      const { text } = await post({
        jsonrpc: "2.0",
        id: i,
        method: "tools/call",
        params: { name: "openclaw_chat", arguments: { message: `p ${i}` } },
      }, session);
      if (!text.includes('"result"')) throw new Error(text);
    },
  };
}

const { GatewayClient } = await import(`${srcs[0]}gateway/client.ts`);
const direct = new GatewayClient(gateway.instance({ timeoutMs: 60_000 }));
const legs = [];
for (const src of srcs) legs.push(await leg(src));
for (let i = 0; i < 200; i++) {
  await direct.chat({ message: `w ${i}` });
  for (const l of legs) await l.send(i);
}
const directs: number[] = [];
for (let i = 0; i < calls; i++) {
  let t = performance.now();
  await direct.chat({ message: `p ${i}` });
  directs.push(performance.now() - t);
  for (const l of legs) {
    t = performance.now();
    await l.send(i);
    l.samples.push(performance.now() - t);
  }
}
const pct = (s: number[], p: number) =>
  s.toSorted((x, y) => x - y)[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
const mean = (s: number[]) => s.reduce((a, b) => a + b, 0) / s.length;
console.log(
  `${calls} calls, direct p50 ${pct(directs, 50).toFixed(3)} mean ${mean(directs).toFixed(3)} ms`,
);
for (const l of legs) {
  console.log(
    `  ${l.src}: p50 ${pct(l.samples, 50).toFixed(3)} mean ${
      mean(l.samples).toFixed(3)
    } | overhead p50 ${(pct(l.samples, 50) - pct(directs, 50)).toFixed(3)} mean ${
      (mean(l.samples) - mean(directs)).toFixed(3)
    } ms`,
  );
}
Deno.exit(0);
