import assert from "node:assert/strict";
import { throttle } from "../src/throttle.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("throttle: first value at once, then the latest once per interval, nothing after stop", async () => {
  const sent: number[] = [];
  const t = throttle<number>(100, (v) => sent.push(v));
  t.push(1);
  t.push(2);
  t.push(3);
  assert.deepEqual(sent, [1], "first value goes out at once");
  await wait(150);
  assert.deepEqual(sent, [1, 3], "trailing call carries the latest value");
  t.push(4);
  t.stop();
  await wait(150);
  assert.deepEqual(sent, [1, 3], "stop drops the pending value");
});
