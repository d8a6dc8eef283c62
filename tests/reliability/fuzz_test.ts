/**
 * Fuzz: seeded, reproducible bad inputs (malformed JSON-RPC, wrong types,
 * huge strings, deep nesting, unicode edge cases, bad headers) against stdio
 * and HTTP. Expected: no crash, no 5xx, every reply well-formed, and the
 * server still answers afterwards. Reproduce a failure with FUZZ_SEED.
 */
import assert from "node:assert/strict";
import { TestGateway } from "../../testing/test_gateway.ts";
import { baseEnv, DENO_RUN, gatewayEnv, INITIALIZE, startHttp } from "../../testing/spawn.ts";
import { scale } from "./scale.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261124);
const CASES = scale(1_200, 20_000);

/** mulberry32: a small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD = [
  "",
  "\u0000",
  "\uFFFF",
  "\uD800",
  "\uDFFF\uD800",
  "😀".repeat(3),
  "e\u0301",
  "\u202Eevil",
  "\r\n\t",
  "<script>",
  "%00",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "null",
  "__proto__",
];

function generator(seed: number) {
  const rand = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const int = (n: number) => Math.floor(rand() * n);
  const value = (depth = 0): unknown => {
    switch (int(depth > 3 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return rand() < 0.5;
      case 2:
        return pick([0, -1, 1e308, -0, 2 ** 53 + 1, 3.14, -1e-300]);
      case 3:
        return pick(WEIRD);
      case 4:
        return "x".repeat(pick([1, 100, 10_000, 200_000]));
      case 5:
        return pick(WEIRD) + "y".repeat(int(50));
      case 6:
        return Array.from({ length: int(4) }, () => value(depth + 1));
      case 7:
        return Object.fromEntries(
          Array.from(
            { length: int(4) },
            () => [pick(["message", "task_id", "a", "__proto__", ""]), value(depth + 1)],
          ),
        );
      default:
        return { nested: value(depth + 1) };
    }
  };
  const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
  const tools = [
    "openclaw_chat",
    "openclaw_chat_async",
    "openclaw_status",
    "openclaw_task_status",
    "openclaw_task_list",
    "openclaw_task_cancel",
    "openclaw_instances",
    "openclaw_agents",
    "openclaw_sessions",
    "openclaw_history",
    "openclaw_approvals",
    "openclaw_approval_respond",
    "nope",
  ];
  /** One input: the raw text of a line/body; `id` if a reply is owed. */
  return (i: number): { text: string; id: number | null } => {
    const id = 1000 + i;
    switch (int(10)) {
      case 0: // not JSON at all
        return {
          text: pick(["{", "]", "nul", '{"jsonrpc":', "\u0000\u0001", "😀", "[1,2", "{}}"]),
          id: null,
        };
      case 1: // JSON but not JSON-RPC
        return { text: JSON.stringify(value()), id: null };
      case 2: // wrong jsonrpc version or id type
        return {
          text: JSON.stringify({
            jsonrpc: pick(["1.0", 2, null]),
            id: pick([id, {}, [], true]),
            method: "ping",
          }),
          id: null,
        };
      case 3: // unknown method
        return {
          text: JSON.stringify({
            jsonrpc: "2.0",
            id,
            method: pick(["nope", "", "tools/nope", "💥"]),
          }),
          id,
        };
      case 4: // deep nesting
        return {
          text: JSON.stringify({
            jsonrpc: "2.0",
            id,
            method: "tools/call",
            params: { name: pick(tools), arguments: { message: deep(int(200) + 50) } },
          }),
          id,
        };
      case 5: // batch
        return {
          text: JSON.stringify([{ jsonrpc: "2.0", id, method: "ping" }, value()]),
          id: null,
        };
      default: // tools/call with random arguments
        return {
          text: JSON.stringify({
            jsonrpc: "2.0",
            id,
            method: "tools/call",
            params: rand() < 0.1
              ? value()
              : { name: pick(tools), arguments: rand() < 0.1 ? value() : value() },
          }),
          id,
        };
    }
  };
}

function wellFormed(reply: unknown): boolean {
  if (typeof reply !== "object" || reply === null) return false;
  const r = reply as Record<string, unknown>;
  if (r.jsonrpc !== "2.0") return false;
  if ("result" in r) return typeof r.result === "object" && r.result !== null;
  if ("error" in r) {
    const e = r.error as Record<string, unknown>;
    return typeof e?.code === "number" && typeof e?.message === "string" &&
      !/\n\s+at /.test(e.message);
  }
  return "method" in r; // a notification from the server
}

Deno.test(`fuzz: ${CASES} bad inputs on stdio (seed ${SEED})`, opts, async () => {
  const gateway = await TestGateway.start();
  const child = new Deno.Command(Deno.execPath(), {
    args: DENO_RUN,
    env: { ...baseEnv(), ...gatewayEnv(gateway.url), OPENCLAW_TIMEOUT_MS: "2000" },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const replies: unknown[] = [];
  let buffer = "";
  const reading = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          try {
            replies.push(JSON.parse(line));
          } catch {
            replies.push({ unparsable: line.slice(0, 200) });
          }
        }
      },
    }),
  );
  try {
    await writer.write(encoder.encode(JSON.stringify(INITIALIZE) + "\n"));
    await writer.write(
      encoder.encode(
        JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n",
      ),
    );
    const next = generator(SEED);
    const owed = new Set<number>();
    for (let i = 0; i < CASES; i++) {
      const input = next(i);
      if (input.id !== null) owed.add(input.id);
      // Some inputs contain raw newlines' worth of JSON: one line each.
      await writer.write(encoder.encode(input.text.replace(/\n/g, " ") + "\n"));
    }
    await writer.write(
      encoder.encode(JSON.stringify({ jsonrpc: "2.0", id: 999_999, method: "ping" }) + "\n"),
    );
    const deadline = performance.now() + 60_000;
    while (!replies.some((r) => (r as { id?: number }).id === 999_999)) {
      assert.ok(performance.now() < deadline, "the server stopped answering");
      await new Promise((r) => setTimeout(r, 50));
    }
    // Replies need not come in order: a call that waits on the gateway (a
    // chat, an approvals list over its WebSocket) may end after the ping.
    const missingNow = () => {
      const answered = new Set(replies.map((r) => (r as { id?: number }).id));
      return [...owed].filter((id) => !answered.has(id));
    };
    while (missingNow().length > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const bad = replies.filter((r) => !wellFormed(r));
    assert.deepEqual(bad.slice(0, 3), [], `${bad.length} malformed replies`);
    const missing = missingNow();
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} requests never answered`);
    console.log(`stdio fuzz: ${CASES} inputs, ${replies.length} replies, all well-formed`);
  } finally {
    await writer.close().catch(() => {});
    const status = await child.status;
    await reading.catch(() => {});
    await gateway.close();
    assert.equal(status.code, 0, "exited cleanly at EOF, never crashed");
  }
});

Deno.test(`fuzz: ${CASES} bad requests on HTTP (seed ${SEED + 1})`, opts, async () => {
  const gateway = await TestGateway.start();
  const server = await startHttp({
    env: { ...gatewayEnv(gateway.url), MCP_RATE_LIMIT: "0", OPENCLAW_TIMEOUT_MS: "2000" },
  });
  try {
    const init = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(INITIALIZE),
    });
    const session = init.headers.get("mcp-session-id")!;
    await init.body?.cancel();
    const rand = prng(SEED + 1);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const next = generator(SEED + 1);
    const statuses = new Map<number, number>();
    const problems: string[] = [];
    for (let i = 0; i < CASES; i += 20) {
      await Promise.all(Array.from({ length: Math.min(20, CASES - i) }, async (_, j) => {
        const input = next(i + j);
        // Most requests carry a valid envelope so the fuzzed body reaches the
        // protocol and the tools; the rest fuzz the envelope itself.
        const valid = rand() < 0.6;
        const headers: Record<string, string> = valid
          ? {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-session-id": session,
          }
          : {
            "content-type": pick([
              "application/json",
              "text/plain",
              "",
              "application/json; charset=utf-16",
            ]),
            accept: pick(["application/json, text/event-stream", "text/html", "*/*", ""]),
          };
        if (!valid && rand() < 0.8) {
          headers["mcp-session-id"] = pick([session, "bogus", "😀".repeat(2), ""]);
        }
        if (!valid && rand() < 0.2) {
          headers["mcp-protocol-version"] = pick(["1999-01-01", "", "2025-11-25"]);
        }
        if (!valid && rand() < 0.1) headers["last-event-id"] = pick(["x_1", "", "💥"]);
        const method = valid ? "POST" : pick(["POST", "GET", "DELETE", "PUT"]);
        const path = valid ? "/mcp" : pick(["/mcp", "/mcp?x=1", "/mcp/", "/%00"]);
        // A DELETE with the live session would end it and turn the rest into 404s.
        if (method === "DELETE" && headers["mcp-session-id"] === session) {
          headers["mcp-session-id"] = "bogus";
        }
        let response: Response;
        try {
          response = await fetch(
            `${server.url}${path}`,
            {
              method,
              headers: Object.fromEntries(
                Object.entries(headers).filter(([k, v]) => v !== "" || k === "accept"),
              ),
              body: method === "POST" || method === "PUT" ? input.text : undefined,
              signal: AbortSignal.timeout(10_000),
            },
          );
        } catch (error) {
          // Header values fetch itself refuses never reach the server.
          if (error instanceof TypeError && /header/i.test(error.message)) return;
          problems.push(`request failed: ${error}`);
          return;
        }
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status >= 500) {
          problems.push(`${response.status} for ${input.text.slice(0, 80)}`);
        }
        const type = response.headers.get("content-type") ?? "";
        if (type.includes("text/event-stream")) {
          // Read what arrives within a moment; every data line must be JSON-RPC.
          const text = await Promise.race([
            response.text(),
            new Promise<string>((r) => setTimeout(() => r(""), 2_000)),
          ]);
          for (
            const line of text.split("\n").filter((l) => l.startsWith("data: ") && l.length > 6)
          ) {
            if (!wellFormed(JSON.parse(line.slice(6)))) {
              problems.push(`bad SSE event ${line.slice(0, 80)}`);
            }
          }
          await response.body?.cancel().catch(() => {});
        } else {
          const text = await response.text();
          if (text && type.includes("json")) {
            try {
              JSON.parse(text);
            } catch {
              problems.push(`unparsable JSON body (${response.status})`);
            }
          }
          if (/\n\s+at |Error:.*\.ts:\d+/.test(text)) {
            problems.push(`stack trace in body (${response.status})`);
          }
        }
      }));
    }
    console.log(`HTTP fuzz statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.deepEqual(problems.slice(0, 5), [], `${problems.length} problems`);
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200, "still serving");
    await health.body?.cancel();
  } finally {
    const status = await server.stop();
    await gateway.close();
    assert.equal(status.code, 0, "the server never crashed");
  }
});
