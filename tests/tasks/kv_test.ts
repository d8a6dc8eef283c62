/** Where the task KV lives by default, and opening it (folder created, one-line errors). */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config.ts";
import { defaultKvPath, openTaskKv } from "../../src/tasks/kv.ts";

Deno.test("kv: the default path follows each platform's data folder", () => {
  assert.equal(
    defaultKvPath({ XDG_DATA_HOME: "/data", HOME: "/home/u" }, "linux"),
    "/data/openclaw-mcp/tasks.kv",
  );
  assert.equal(
    defaultKvPath({ HOME: "/home/u" }, "linux"),
    "/home/u/.local/share/openclaw-mcp/tasks.kv",
  );
  assert.equal(
    defaultKvPath({ HOME: "/Users/u" }, "darwin"),
    "/Users/u/Library/Application Support/openclaw-mcp/tasks.kv",
  );
  assert.equal(
    defaultKvPath({ LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }, "windows"),
    "C:\\Users\\u\\AppData\\Local\\openclaw-mcp\\tasks.kv",
  );
  assert.equal(
    defaultKvPath({ APPDATA: "C:\\Roaming" }, "windows"),
    "C:\\Roaming\\openclaw-mcp\\tasks.kv",
  );
  assert.throws(() => defaultKvPath({}, "linux"), ConfigError);
  assert.throws(() => defaultKvPath({}, "linux"), /HOME is not set.*OPENCLAW_KV_PATH/);
});

Deno.test("kv: opening a file path creates its folder; the store persists across opens", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/deeper/tasks.kv`;
    const kv = await openTaskKv(path);
    await kv.set(["k"], "v");
    kv.close();
    const again = await openTaskKv(path);
    assert.equal((await again.get(["k"])).value, "v");
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv: :memory: opens; an unusable path is a one-line ConfigError naming it", async () => {
  const memory = await openTaskKv(":memory:");
  await memory.set(["k"], 1);
  memory.close();
  const dir = await Deno.makeTempDir();
  try {
    // A folder where the database file should be.
    const error = await openTaskKv(dir).catch((e) => e);
    assert.ok(error instanceof ConfigError);
    assert.ok(
      error.message.startsWith(
        `OPENCLAW_KV_PATH/--kv-path ${JSON.stringify(dir)} cannot be opened (`,
      ),
    );
    assert.ok(!error.message.includes("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
