import assert from "node:assert/strict";
import { createLogger, redact, REDACTED } from "../src/log.ts";

Deno.test("log: secrets are redacted by key at any depth", () => {
  const value = redact({
    token: "t1",
    nested: { Authorization: "Bearer x", list: [{ clientSecret: "s" }, { apiKey: "k" }] },
    password: "p",
    url: "http://x",
    hasToken: true,
  });
  assert.deepEqual(value, {
    token: REDACTED,
    nested: { Authorization: REDACTED, list: [{ clientSecret: REDACTED }, { apiKey: REDACTED }] },
    password: REDACTED,
    url: "http://x",
    hasToken: true,
  });
});

Deno.test("log: lines are JSON with level, time and event; debug is filtered", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), now: () => 0 });
  log.debug("hidden");
  log.info("shown", { gatewayToken: "secret", n: 1 });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), {
    level: "info",
    time: "1970-01-01T00:00:00.000Z",
    event: "shown",
    gatewayToken: REDACTED,
    n: 1,
  });
});
