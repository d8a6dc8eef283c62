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
import { MAIN } from "../testing/spawn.ts";
import { bareSession, serveHttp } from "./served_http.ts";

const gateway = await TestGateway.start();
const dir = Deno.args[0] ?? "/tmp/conc";
const { child, url } = await serveHttp(Deno.args[2] ?? MAIN, {
  gatewayUrl: gateway.url,
  profileDir: dir === "-" ? undefined : dir,
});
const clients = await Promise.all(Array.from({ length: 32 }, () => bareSession(url)));
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
