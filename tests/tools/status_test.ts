/**
 * `openclaw_status`, `openclaw_instances` and `openclaw_agents`, run directly
 * against real loopback gateways: a good one, one that refuses our token and
 * one that is not listening.
 */
import assert from "node:assert/strict";
import type { Instance } from "../../src/config.ts";
import type { BridgeError } from "../../src/errors.ts";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { agentsTool, instancesTool, statusTool } from "../../src/tools/status.ts";
import type { ToolContext } from "../../src/tools/tool.ts";
import { TestGateway } from "../../testing/test_gateway.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const context: ToolContext = { signal: new AbortController().signal, progress() {}, owner: "o" };

function instance(name: string, url: string, extra: Partial<Instance> = {}): Instance {
  return { name, url, timeoutMs: 5_000, isDefault: false, model: "openclaw", ...extra };
}

/** Three instances: `good` (default, agent main), `refused` (wrong token), `down` (closed port). */
async function setup() {
  const good = await TestGateway.start();
  const refused = await TestGateway.start({ token: "the-real-token" });
  const closed = await TestGateway.start();
  await closed.close();
  const gateways = new GatewayRegistry([
    instance("good", good.url, { token: "test-token", isDefault: true, agent: "main" }),
    instance("refused", refused.url, { token: "test-token" }),
    instance("down", closed.url),
  ]);
  return {
    gateways,
    async close() {
      await good.close();
      await refused.close();
    },
  };
}

Deno.test("status tool: one report per instance, ok only when every gateway is", opts, async () => {
  const s = await setup();
  try {
    const tool = statusTool(s.gateways);
    const all = await tool.run({}, context);
    const structured = tool.output.parse(all.structured) as {
      ok: boolean;
      instances: { name: string; status: string; http_status: number | null; agents: string[] }[];
    };
    assert.equal(structured.ok, false);
    assert.deepEqual(structured.instances.map((i) => [i.name, i.status]), [
      ["good", "ok"],
      ["refused", "unauthorized"],
      ["down", "unreachable"],
    ]);
    assert.deepEqual(structured.instances[0].agents, ["coder", "main"]);
    assert.equal(structured.instances[1].http_status, 401);
    assert.equal(structured.instances[2].http_status, null);

    const one = (await tool.run({ instance: "good" }, context)).structured as typeof structured;
    assert.equal(one.ok, true, "only the named instance is probed");
    assert.deepEqual(one.instances.map((i) => i.name), ["good"]);
    await assert.rejects(
      tool.run({ instance: "nope" }, context),
      (e: BridgeError) => e.code === "unknown_instance",
    );
  } finally {
    await s.close();
  }
});

Deno.test("status tool: the input schema refuses unknown arguments", () => {
  const gateways = new GatewayRegistry([instance("a", "http://127.0.0.1:9", { isDefault: true })]);
  assert.ok(!statusTool(gateways).input.safeParse({ instances: "a" }).success);
  assert.ok(!instancesTool(gateways).input.safeParse({ instance: "a" }).success);
  assert.ok(agentsTool(gateways).input.safeParse({ instance: "a" }).success);
});

Deno.test(
  "agents tool: agents per instance; a failing gateway gives a coded error entry",
  opts,
  async () => {
    const s = await setup();
    try {
      const tool = agentsTool(s.gateways);
      const { structured } = await tool.run({}, context);
      tool.output.parse(structured);
      const [good, refused, down] = (structured as {
        instances: {
          name: string;
          default_agent: string | null;
          agents: string[];
          error: { code: string } | null;
        }[];
      }).instances;
      assert.deepEqual(good, {
        name: "good",
        default_agent: "main",
        agents: ["coder", "main"],
        error: null,
      });
      assert.equal(refused.error?.code, "gateway_unauthorized");
      assert.deepEqual(refused.agents, []);
      assert.equal(down.error?.code, "gateway_unreachable");
      assert.equal(down.default_agent, null);
    } finally {
      await s.close();
    }
  },
);

Deno.test("instances tool: configuration only, tokens never shown", async () => {
  const gateways = new GatewayRegistry([
    instance("a", "http://127.0.0.1:9", { isDefault: true, token: "very-secret", agent: "main" }),
    instance("b", "http://127.0.0.1:10", { timeoutMs: 1_234 }),
  ]);
  const tool = instancesTool(gateways);
  const { structured } = await tool.run({}, context);
  tool.output.parse(structured);
  assert.deepEqual(structured, {
    instances: [
      {
        name: "a",
        url: "http://127.0.0.1:9",
        default: true,
        timeout_ms: 5_000,
        agent: "main",
        model: "openclaw",
        has_token: true,
      },
      {
        name: "b",
        url: "http://127.0.0.1:10",
        default: false,
        timeout_ms: 1_234,
        agent: null,
        model: "openclaw",
        has_token: false,
      },
    ],
  });
  assert.doesNotMatch(JSON.stringify(structured), /very-secret/);
  assert.deepEqual(tool.annotations, {
    readOnlyHint: true,
    idempotentHint: true,
    openWorldHint: false,
  });
});
