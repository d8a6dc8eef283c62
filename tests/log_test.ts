import assert from "node:assert/strict";
import {
  CIRCULAR,
  createLogger,
  DEPTH_LIMIT,
  MAX_REDACT_DEPTH,
  redact,
  REDACTED,
} from "../src/log.ts";

/** `{ a: { a: ... { [key]: leaf } } }` with `depth` objects around the leaf's key. */
function nest(depth: number, key: string, leaf: unknown): Record<string, unknown> {
  let value: Record<string, unknown> = { [key]: leaf };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

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

Deno.test("log: a secret at depth 20 is redacted", () => {
  const line = JSON.stringify(redact(nest(20, "token", "s3cret-depth-20")));
  assert.ok(!line.includes("s3cret-depth-20"), line);
  assert.ok(line.includes(REDACTED), line);
});

Deno.test("log: beyond the depth cap values are dropped, never printed", () => {
  for (const key of ["token", "harmless"]) {
    const line = JSON.stringify(redact(nest(MAX_REDACT_DEPTH + 8, key, "s3cret-deep")));
    assert.ok(!line.includes("s3cret-deep"), line);
    assert.ok(line.includes(DEPTH_LIMIT), line);
  }
  // An array nests just the same.
  let list: unknown = [{ note: "s3cret-in-array" }];
  for (let i = 0; i < MAX_REDACT_DEPTH + 2; i++) list = [list];
  const line = JSON.stringify(redact({ list }));
  assert.ok(!line.includes("s3cret-in-array"), line);
  assert.ok(line.includes(DEPTH_LIMIT), line);
});

Deno.test("log: a cycle is cut without throwing, a shared object is not a cycle", () => {
  const loop: Record<string, unknown> = { name: "loop", apiKey: "k" };
  loop.self = loop;
  loop.list = [loop];
  const shared = { id: 1 };
  assert.deepEqual(redact({ loop, left: shared, right: shared }), {
    loop: { name: "loop", apiKey: REDACTED, self: CIRCULAR, list: [CIRCULAR] },
    left: { id: 1 },
    right: { id: 1 },
  });
  const lines: string[] = [];
  createLogger({ write: (l) => lines.push(l) }).info("cyclic", { loop });
  assert.equal(JSON.parse(lines[0]).loop.self, CIRCULAR);
});
