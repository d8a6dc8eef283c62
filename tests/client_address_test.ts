import assert from "node:assert/strict";
import { Hono } from "hono";
import { clientAddress, isLoopbackAddress, peerAddress } from "../src/client_address.ts";

const PEER = "10.0.0.7";

/** The address `clientAddress` picks for a request from PEER with these X-Forwarded-For lines. */
async function addressFor(hops: number, ...forwarded: string[]): Promise<string> {
  const app = new Hono();
  app.get("/", (c) => c.text(clientAddress(c, hops)));
  const headers = new Headers();
  for (const line of forwarded) headers.append("x-forwarded-for", line);
  const env = { remoteAddr: { transport: "tcp", hostname: PEER, port: 40_000 } };
  return await (await app.request("/", { headers }, env)).text();
}

Deno.test("client address: 0 hops ignores X-Forwarded-For", async () => {
  assert.equal(await addressFor(0), PEER);
  assert.equal(await addressFor(0, "203.0.113.9"), PEER);
  assert.equal(await addressFor(0, "6.6.6.6, 203.0.113.9"), PEER);
});

Deno.test("client address: 1 hop takes the rightmost entry (what our proxy appended)", async () => {
  assert.equal(await addressFor(1, "203.0.113.9"), "203.0.113.9");
  assert.equal(await addressFor(1, "6.6.6.6, 203.0.113.9"), "203.0.113.9");
  assert.equal(await addressFor(1, "1.1.1.1,2.2.2.2,  203.0.113.9  "), "203.0.113.9");
  // A client's own header lines are joined before the proxy's entry, never after it.
  assert.equal(await addressFor(1, "6.6.6.6", "7.7.7.7, 203.0.113.9"), "203.0.113.9");
  assert.equal(await addressFor(1, "6.6.6.6, 2001:DB8::1"), "2001:db8::1");
  // No header: the request did not come through the proxy.
  assert.equal(await addressFor(1), PEER);
});

Deno.test("client address: 2 hops take the second entry from the right", async () => {
  // CDN appended the client, nginx appended the CDN.
  assert.equal(await addressFor(2, "6.6.6.6, 203.0.113.9, 198.51.100.1"), "203.0.113.9");
  assert.equal(await addressFor(2, "203.0.113.9, 198.51.100.1"), "203.0.113.9");
  assert.equal(await addressFor(3, "6.6.6.6, 203.0.113.9, 198.51.100.1, 10.1.1.1"), "203.0.113.9");
});

Deno.test("client address: fewer entries than hops take the leftmost", async () => {
  // The first trusted proxy saw the client directly and the client sent no header.
  assert.equal(await addressFor(2, "203.0.113.9"), "203.0.113.9");
  assert.equal(await addressFor(5, "203.0.113.9, 198.51.100.1"), "203.0.113.9");
});

Deno.test("client address: empty and junk entries never become a fresh client", async () => {
  // Empty entries (client-written commas) are skipped, not counted as hops.
  assert.equal(await addressFor(1, ",, ,203.0.113.9"), "203.0.113.9");
  assert.equal(await addressFor(1, "6.6.6.6,,, , 203.0.113.9"), "203.0.113.9");
  assert.equal(await addressFor(2, "203.0.113.9, , 198.51.100.1"), "203.0.113.9");
  // A header with nothing in it, or an entry that is not an address: the peer.
  assert.equal(await addressFor(1, ""), PEER);
  assert.equal(await addressFor(1, " , ,"), PEER);
  assert.equal(await addressFor(1, "unknown"), PEER);
  assert.equal(await addressFor(1, "6.6.6.6, <script>"), PEER);
  assert.equal(await addressFor(1, "x".repeat(10_000)), PEER);
  assert.equal(await addressFor(1, "1.2.3.4.5"), PEER);
  assert.equal(await addressFor(1, "::"), "::");
  // Ports are dropped: a new source port is not a new client.
  assert.equal(await addressFor(1, "203.0.113.9:51234"), "203.0.113.9");
  assert.equal(await addressFor(1, "[2001:db8::1]:443"), "2001:db8::1");
});

Deno.test("client address: the peer address without connection info is 'unknown'", async () => {
  const app = new Hono();
  app.get("/", (c) => c.text(peerAddress(c)));
  assert.equal(await (await app.request("/")).text(), "unknown");
});

Deno.test("client_address: isLoopbackAddress knows IPv4 127/8, ::1 and IPv4-mapped 127/8", () => {
  for (
    const address of [
      "127.0.0.1",
      "127.1.2.3",
      "::1",
      "[::1]",
      "::ffff:127.0.0.1",
      "::FFFF:127.9.9.9",
    ]
  ) {
    assert.equal(isLoopbackAddress(address), true, address);
  }
  for (
    const address of ["10.0.0.1", "::2", "::ffff:10.0.0.1", "128.0.0.1", "localhost", "unknown"]
  ) {
    assert.equal(isLoopbackAddress(address), false, address);
  }
});
