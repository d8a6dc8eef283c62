import assert from "node:assert/strict";
import { add, counter } from "../../src/tasks/counters.ts";

Deno.test("counters: add goes up and down; a wrap below zero reads as 0", async () => {
  await using kv = await Deno.openKv(":memory:");
  const key = ["n"];
  const apply = async (delta: number) => {
    const op = kv.atomic();
    add(op, key, delta);
    assert.ok((await op.commit()).ok);
    return counter(await kv.get<Deno.KvU64>(key));
  };
  assert.equal(counter(await kv.get<Deno.KvU64>(key)), 0);
  assert.equal(await apply(5), 5);
  assert.equal(await apply(-2), 3);
  assert.equal(await apply(0), 3);
  assert.equal(await apply(-4), 0);
  assert.equal((await kv.get<Deno.KvU64>(key)).value?.value, (1n << 64n) - 1n);
  assert.equal(await apply(3), 2);
});
