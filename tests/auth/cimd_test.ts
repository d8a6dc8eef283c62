/** Client ID Metadata Documents: bounded fields, neutralised names, a bounded cache. */
import assert from "node:assert/strict";
import { CimdResolver } from "../../src/auth/cimd.ts";

const CALLBACK = "http://127.0.0.1:9/callback";

function resolver(doc: (id: string) => Record<string, unknown>, fetched: string[] = []) {
  return new CimdResolver({
    hosts: ["127.0.0.1"],
    cacheSize: 3,
    fetch: (input) => {
      const id = String(input);
      fetched.push(id);
      return Promise.resolve(Response.json(doc(id)));
    },
  });
}

Deno.test("cimd: names lose hidden controls; oversized redirect lists are refused", async () => {
  const named = await resolver((id) => ({
    client_id: id,
    client_name: "Good \u202Eppa\u202C\u0085",
    redirect_uris: [CALLBACK],
  })).resolve("http://127.0.0.1/a.json");
  assert.ok(!("error" in named));
  assert.equal(named.name, "Good ppa");
  for (const uris of [[`${CALLBACK}?${"x".repeat(2100)}`], Array(11).fill(CALLBACK)]) {
    const refused = await resolver((id) => ({ client_id: id, redirect_uris: uris }))
      .resolve("http://127.0.0.1/b.json");
    assert.ok("error" in refused);
    assert.match(refused.error, /exceeds their limits/);
  }
});

Deno.test("cimd: the document cache holds at most cacheSize entries", async () => {
  const fetched: string[] = [];
  const cimd = resolver((id) => ({ client_id: id, redirect_uris: [CALLBACK] }), fetched);
  for (let i = 0; i < 5; i++) await cimd.resolve(`http://127.0.0.1/c${i}.json`);
  await cimd.resolve("http://127.0.0.1/c4.json");
  assert.equal(fetched.length, 5, "recent ids are cached");
  await cimd.resolve("http://127.0.0.1/c0.json");
  assert.equal(fetched.length, 6, "the oldest was dropped");
});
