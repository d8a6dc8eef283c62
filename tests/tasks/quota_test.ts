import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import { countKey, pendingBytesKey } from "../../src/tasks/keys.ts";
import { checkQuota, readPendingUsage, utf8Bytes } from "../../src/tasks/quota.ts";

Deno.test("quota: utf8Bytes agrees with TextEncoder, lone surrogates included", () => {
  const samples = [
    "",
    "abc",
    "é",
    "€",
    "😀",
    "a😀b€",
    "\ud800",
    "\udc00x",
    "x\ud800",
    "\ud800\ud800",
  ];
  for (const s of samples) {
    assert.equal(utf8Bytes(s), new TextEncoder().encode(s).length, JSON.stringify(s));
  }
});

Deno.test("quota: checkQuota refuses past either limit, naming its variable", async () => {
  await using kv = await Deno.openKv(":memory:");
  await kv.atomic().sum(countKey("alice", "pending"), 2n).sum(pendingBytesKey("alice"), 10n)
    .commit();
  const usage = await readPendingUsage(kv, "alice");
  assert.equal(usage.count.value?.value, 2n);
  assert.ok(usage.count.versionstamp && usage.bytes.versionstamp);
  checkQuota(usage, { maxPending: 3, maxPendingBytes: 15, messageBytes: 5 });
  const refused = (maxPending: number, maxPendingBytes: number): string => {
    try {
      checkQuota(usage, { maxPending, maxPendingBytes, messageBytes: 5 });
      return "accepted";
    } catch (error) {
      assert.ok(error instanceof BridgeError && error.code === "quota_exceeded");
      return error.message;
    }
  };
  assert.match(refused(2, Infinity), /OPENCLAW_TASK_MAX_PENDING\)/);
  assert.match(refused(Infinity, 14), /OPENCLAW_TASK_MAX_PENDING_BYTES/);
  assert.equal(refused(Infinity, Infinity), "accepted");
});
