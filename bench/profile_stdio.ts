/**
 * Drives stdio servers with sequential `openclaw_chat` calls, for
 * `docs/notes/hot-path.md`:
 *
 * ```sh
 * deno run -A bench/profile_stdio.ts bare|sdk [calls] [profile dir|-] [other main.ts ...]
 * ```
 *
 * `bare` writes each request as a line on the child's stdin and reads lines
 * from its stdout (no client SDK: what is measured is the pipe hop and the
 * server); `sdk` goes through the v1 client's `StdioClientTransport`, as
 * `deno task bench` does. The server is this tree's `main.ts`; with a
 * profile directory it runs under `--cpu-prof` (`-`: unprofiled). Each
 * further `main.ts` path (say a `git archive` of another commit) is served
 * too and the calls are interleaved (direct, this, other, ...), so machine
 * drift hits all alike. Prints each server's p50/p99, its overhead over the
 * direct call, and its own CPU time per call.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { TestGateway } from "../testing/test_gateway.ts";
import { GatewayClient } from "../src/gateway/client.ts";
import { baseEnv, INITIALIZE, MAIN } from "../testing/spawn.ts";

const sdk = Deno.args[0] === "sdk";
const calls = Number(Deno.args[1] ?? 3000);
const dir = Deno.args[2] ?? "/tmp/prof/stdio";
const mains = [MAIN, ...Deno.args.slice(3)];

const gateway = await TestGateway.start();
const env = {
  ...baseEnv(),
  OPENCLAW_URL: gateway.url,
  OPENCLAW_GATEWAY_TOKEN: "test-token",
};
const denoArgs = (main: string, profile: boolean) => [
  "run",
  "-A",
  "--quiet",
  ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : []),
  main,
];

interface Served {
  main: string;
  pid: number;
  call: (i: number) => Promise<unknown>;
  close: () => Promise<void>;
  samples: number[];
  ticks: [number, number];
}

/** A child over bare pipes: one line per request, replies matched by id. */
async function bareServer(main: string, profile: boolean): Promise<Served> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoArgs(main, profile),
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const waiting = new Map<number, (line: string) => void>();
  (async () => {
    let buffer = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      let cut: number;
      while ((cut = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 1);
        const id = JSON.parse(line).id;
        waiting.get(id)?.(line);
        waiting.delete(id);
      }
    }
  })();
  const request = (id: number, method: string, params: unknown) =>
    new Promise<string>((resolve) => {
      waiting.set(id, resolve);
      writer.write(encoder.encode(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n"));
    });
  await request(0, "initialize", INITIALIZE.params);
  await writer.write(
    encoder.encode(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n"),
  );
  return {
    main,
    pid: child.pid,
    call: async (i) => {
      const line = await request(i + 1, "tools/call", {
        name: "openclaw_chat",
        arguments: { message: `p ${i}` },
      });
      if (!line.includes('"result"')) throw new Error(line);
    },
    close: async () => {
      await writer.close();
      await child.status;
    },
    samples: [],
    ticks: [0, 0],
  };
}

/** A child through the v1 SDK client, as `deno task bench` runs it. */
async function sdkServer(main: string, profile: boolean): Promise<Served> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: denoArgs(main, profile),
    env,
    stderr: "ignore",
  });
  const client = new Client({ name: "profile", version: "0" });
  await client.connect(transport);
  return {
    main,
    pid: transport.pid!,
    call: (i) => client.callTool({ name: "openclaw_chat", arguments: { message: `p ${i}` } }),
    close: () => client.close(),
    samples: [],
    ticks: [0, 0],
  };
}

/** The process's CPU time [user, system] in clock ticks of 10 ms. */
function cpuTicks(pid: number): [number, number] {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return [Number(fields[11]), Number(fields[12])];
}

const percentile = (s: number[], p: number) =>
  s.toSorted((x, y) => x - y)[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];

const servers: Served[] = [];
for (const [i, main] of mains.entries()) {
  const profile = i === 0 && dir !== "-";
  servers.push(await (sdk ? sdkServer(main, profile) : bareServer(main, profile)));
}
const direct = new GatewayClient(gateway.instance({ timeoutMs: 60_000 }));
const directs: number[] = [];
for (let i = 0; i < 50; i++) {
  await direct.chat({ message: `w ${i}` });
  for (const s of servers) await s.call(1_000_000 + i);
}
for (const s of servers) s.ticks = cpuTicks(s.pid);
for (let i = 0; i < calls; i++) {
  let t = performance.now();
  await direct.chat({ message: `p ${i}` });
  directs.push(performance.now() - t);
  for (const s of servers) {
    t = performance.now();
    await s.call(i);
    s.samples.push(performance.now() - t);
  }
}
const fmt = (s: number[]) =>
  `p50 ${percentile(s, 50).toFixed(3)} p99 ${percentile(s, 99).toFixed(3)}`;
console.log(`stdio ${sdk ? "sdk" : "bare"}, ${calls} calls: direct ${fmt(directs)}`);
for (const s of servers) {
  const [user, sys] = cpuTicks(s.pid);
  const perCall = (ticks: number) => (ticks * 10 / calls).toFixed(3);
  const over = (p: number) => (percentile(s.samples, p) - percentile(directs, p)).toFixed(3);
  console.log(
    `  ${s.main}: ${fmt(s.samples)} | overhead p50 ${over(50)} p99 ${over(99)} | server CPU user ${
      perCall(user - s.ticks[0])
    } sys ${perCall(sys - s.ticks[1])} ms/call`,
  );
  await s.close();
}
await gateway.close();
Deno.exit(0);
