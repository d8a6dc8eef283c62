import assert from "node:assert/strict";
import { loadConfig } from "../src/config.ts";
import { VERSION } from "../src/version.ts";

Deno.test("version: matches deno.json's version and is what --version prints", async () => {
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  assert.equal(VERSION, denoJson.version, "bump src/version.ts and deno.json together");
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
  assert.deepEqual(loadConfig({ args: ["--version"], env: {} }), {
    kind: "version",
    text: `openclaw-mcp ${VERSION}`,
  });
});
