/** `openclaw_chat` progress: a bounded tail of the reply, not the whole reply so far. */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { GatewayRegistry } from "../../src/gateway/registry.ts";
import { silentLogger } from "../../src/log.ts";
import { createServer } from "../../src/server.ts";
import { PROGRESS_TAIL_CHARS, progressTail } from "../../src/tools/chat.ts";
import { TestGateway } from "../../testing/test_gateway.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("chat: progressTail keeps the last characters, marks the cut, never splits a pair", () => {
  assert.equal(progressTail("short"), "short");
  const exact = "x".repeat(PROGRESS_TAIL_CHARS);
  assert.equal(progressTail(exact), exact);
  const long = "a".repeat(10) + "b".repeat(PROGRESS_TAIL_CHARS);
  assert.equal(progressTail(long), "…" + "b".repeat(PROGRESS_TAIL_CHARS));
  // "😀" is two UTF-16 units; a cut through it drops the lone second half.
  const emoji = "😀".repeat(3);
  assert.equal(progressTail(emoji, 3), "…😀");
});

Deno.test(
  "chat: a long streamed reply sends bounded progress; the result is whole",
  opts,
  async () => {
    const gateway = await TestGateway.start({ chunkDelayMs: 1 });
    try {
      const gateways = new GatewayRegistry([gateway.instance({ timeoutMs: 30_000 })]);
      const server = createServer({ gateways, log: silentLogger });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(serverSide);
      const client = new Client({ name: "progress-test", version: "0" });
      await client.connect(clientSide);
      const message = Array.from({ length: 1_200 }, (_, i) => `word${String(i).padStart(5, "0")}`)
        .join(" ");
      const reply = `echo: ${message}`;
      const updates: { progress: number; message?: string }[] = [];
      const result = await client.callTool(
        { name: "openclaw_chat", arguments: { message } },
        undefined,
        { onprogress: (p) => updates.push(p), timeout: 30_000 },
      ) as unknown as { structuredContent: { reply: string }; content: { text: string }[] };
      assert.equal(
        result.structuredContent.reply,
        reply,
        "the final result carries the whole reply",
      );
      assert.equal(result.content[0].text, reply);
      assert.ok(updates.length >= 2, `several progress updates (${updates.length})`);
      assert.ok(
        updates.some((u) => u.progress > PROGRESS_TAIL_CHARS),
        "some update came after the reply outgrew the tail",
      );
      for (const update of updates) {
        const text = update.message!;
        assert.ok(text.length <= PROGRESS_TAIL_CHARS + 1, `message of ${text.length} chars`);
        const soFar = reply.slice(0, update.progress);
        if (update.progress > PROGRESS_TAIL_CHARS) {
          assert.ok(text.startsWith("…"), "a cut tail is marked");
          assert.ok(soFar.endsWith(text.slice(1)), "the tail ends the reply so far");
        } else {
          assert.equal(text, soFar);
        }
      }
      await client.close();
    } finally {
      await gateway.close();
    }
  },
);
