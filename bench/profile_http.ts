/**
 * Drives HTTP servers with sequential `openclaw_chat` calls over one
 * protocol era, for `docs/notes/hot-path.md`:
 *
 * ```sh
 * deno run -A bench/profile_http.ts legacy|modern|bare [calls] [profile dir] [other main.ts...]
 * ```
 *
 * `bare` is a 2025-11-25 session driven by bare `fetch` (no client SDK).
 *
 * The server is this tree's `main.ts`; with a profile directory it runs
 * under `--cpu-prof` (`-`: unprofiled). Each further `main.ts` path (say a
 * `git archive` of another commit) is served too and the calls are
 * interleaved (direct, this, other, ...), so machine drift hits all alike.
 * Prints each server's p50/p99, its overhead over the direct call, and its
 * own CPU time per call.
 *
 * @module
 */
import { TestGateway } from "../testing/test_gateway.ts";
import { GatewayClient } from "../src/gateway/client.ts";
import { MAIN } from "../testing/spawn.ts";
import { bareSession, serveHttp } from "./served_http.ts";
import { connectV2Http, type V2Session } from "../testing/v2_client.ts";

const era = Deno.args[0] === "modern" ? "modern" : "legacy";
const bare = Deno.args[0] === "bare";
const calls = Number(Deno.args[1] ?? 3000);
const dir = Deno.args[2] ?? `/tmp/prof/${era}`;
const mains = [MAIN, ...Deno.args.slice(3)];

const gateway = await TestGateway.start();

interface Served {
  main: string;
  child: Deno.ChildProcess;
  session: V2Session;
  call: (i: number) => Promise<unknown>;
  samples: number[];
  ticks: [number, number];
}

async function serve(main: string, profile: boolean): Promise<Served> {
  const { child, url } = await serveHttp(main, {
    gatewayUrl: gateway.url,
    profileDir: profile ? dir : undefined,
  });
  const session = await connectV2Http(`${url}/mcp`, { era });
  const call = bare
    ? await bareSession(url)
    : (i: number) =>
      session.client.callTool({ name: "openclaw_chat", arguments: { message: `p ${i}` } });
  return { main, child, session, call, samples: [], ticks: [0, 0] };
}

/** The process's CPU time [user, system] in clock ticks of 10 ms. */
function cpuTicks(pid: number): [number, number] {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return [Number(fields[11]), Number(fields[12])];
}

const percentile = (s: number[], p: number) =>
  s.toSorted((x, y) => x - y)[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];

const servers: Served[] = [];
for (const [i, main] of mains.entries()) servers.push(await serve(main, i === 0 && dir !== "-"));
const direct = new GatewayClient(gateway.instance({ timeoutMs: 60_000 }));
const directs: number[] = [];
const chat = (s: Served, i: number) => s.call(i);
for (let i = 0; i < 50; i++) for (const s of servers) await chat(s, i);
for (const s of servers) s.ticks = cpuTicks(s.child.pid);
for (let i = 0; i < calls; i++) {
  let t = performance.now();
  await direct.chat({ message: `p ${i}` });
  directs.push(performance.now() - t);
  for (const s of servers) {
    t = performance.now();
    await chat(s, i);
    s.samples.push(performance.now() - t);
  }
}
const fmt = (s: number[]) =>
  `p50 ${percentile(s, 50).toFixed(3)} p99 ${percentile(s, 99).toFixed(3)}`;
console.log(`${bare ? "bare" : era}, ${calls} calls: direct ${fmt(directs)}`);
for (const s of servers) {
  const [user, sys] = cpuTicks(s.child.pid);
  const perCall = (ticks: number) => (ticks * 10 / calls).toFixed(3);
  const over = (p: number) => (percentile(s.samples, p) - percentile(directs, p)).toFixed(3);
  console.log(
    `  ${s.main}: ${fmt(s.samples)} | overhead p50 ${over(50)} p99 ${over(99)} | server CPU user ${
      perCall(user - s.ticks[0])
    } sys ${perCall(sys - s.ticks[1])} ms/call`,
  );
  await s.session.close();
  s.child.kill("SIGTERM");
  await s.child.status;
}
await gateway.close();
Deno.exit(0);
