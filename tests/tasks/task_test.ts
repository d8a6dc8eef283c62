import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";
import {
  checkTaskId,
  isTerminal,
  MAX_TASK_ID_CHARS,
  notFound,
  STATUSES,
} from "../../src/tasks/task.ts";

Deno.test("task: statuses in lifecycle order; only the last three are terminal", () => {
  assert.deepEqual(STATUSES, ["pending", "running", "completed", "failed", "cancelled"]);
  assert.deepEqual(STATUSES.filter(isTerminal), ["completed", "failed", "cancelled"]);
});

Deno.test("task: checkTaskId takes UUIDs and refuses what cannot be ours", () => {
  checkTaskId(crypto.randomUUID());
  checkTaskId("a".repeat(MAX_TASK_ID_CHARS));
  for (const bad of ["", "a".repeat(MAX_TASK_ID_CHARS + 1), "a/b", "é", 7 as unknown as string]) {
    assert.throws(
      () => checkTaskId(bad),
      (e) => e instanceof BridgeError && e.code === "invalid_argument",
      String(bad),
    );
  }
});

Deno.test("task: notFound names the id and points at the list tool", () => {
  const error = notFound("t1");
  assert.equal(error.code, "task_not_found");
  assert.match(error.message, /"t1"/);
  assert.match(error.hint, /openclaw_task_list/);
});
