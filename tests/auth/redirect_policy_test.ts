import assert from "node:assert/strict";
import { CLAUDE_CALLBACKS, isSafeRedirect } from "../../src/auth/redirect_policy.ts";

Deno.test("redirect policy: https anywhere, http only on loopback, never a fragment", () => {
  const cases: [string, boolean][] = [
    ["https://app.example/cb", true],
    ["https://app.example:8443/cb?x=1", true],
    ["http://localhost:3000/cb", true],
    ["http://127.0.0.1:33418/callback", true],
    ["http://[::1]:9/cb", true],
    ["http://evil.example/cb", false],
    ["http://127.0.0.2/cb", false],
    ["https://app.example/cb#frag", false],
    ["javascript:alert(1)", false],
    ["custom-scheme://cb", false],
    ["/relative/cb", false],
    ["not a url", false],
  ];
  for (const [uri, safe] of cases) assert.equal(isSafeRedirect(uri), safe, uri);
});

Deno.test("redirect policy: Claude's callbacks are safe https URLs", () => {
  assert.ok(CLAUDE_CALLBACKS.length > 0);
  for (const uri of CLAUDE_CALLBACKS) {
    assert.ok(isSafeRedirect(uri), uri);
    assert.equal(new URL(uri).protocol, "https:");
  }
});
