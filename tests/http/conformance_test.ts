/**
 * The official MCP conformance suite (npm:@modelcontextprotocol/conformance,
 * run with Deno: Node 20 lacks fs.globSync) against the spawned HTTP server.
 * Only the generic scenarios apply to a gateway bridge; the others need the
 * suite's fixture tools, resources and prompts.
 */
import assert from "node:assert/strict";
import { baseEnv, startHttp } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** Scenarios this server must pass. */
export const GENERIC_SCENARIOS = [
  "server-initialize",
  "ping",
  "logging-set-level",
  "tools-list",
  "server-sse-multiple-streams",
  "dns-rebinding-protection",
];

Deno.test("conformance: the generic server scenarios pass", opts, async () => {
  const server = await startHttp();
  try {
    for (const scenario of GENERIC_SCENARIOS) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          "npm:@modelcontextprotocol/conformance@0.1.16",
          "server",
          "--url",
          `${server.url.replace("127.0.0.1", "localhost")}/mcp`,
          "--scenario",
          scenario,
        ],
        cwd: new URL("../../", import.meta.url).pathname,
        env: baseEnv(),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const summary = /Passed: (\d+)\/(\d+), (\d+) failed/.exec(text);
      assert.ok(summary, `${scenario}: no summary\n${text.slice(-800)}`);
      assert.equal(summary[3], "0", `${scenario} failed:\n${text.slice(-1500)}`);
      assert.ok(Number(summary[1]) >= 1 && summary[1] === summary[2], `${scenario}: ${summary[0]}`);
      assert.equal(out.code, 0, `${scenario} exit code`);
    }
  } finally {
    await server.stop();
  }
});
