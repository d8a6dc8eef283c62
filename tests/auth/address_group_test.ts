/** Per-address OAuth limits count IPv4 addresses and IPv6 /64 networks. */
import assert from "node:assert/strict";
import { addressGroup } from "../../src/auth/address_group.ts";

Deno.test("addressGroup: IPv4 as is, IPv6 by /64, IPv4-mapped IPv6 as IPv4", () => {
  assert.equal(addressGroup("203.0.113.7"), "203.0.113.7");
  assert.equal(addressGroup("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  assert.equal(addressGroup("2001:DB8:1:2:ffff:0:0:9"), "2001:db8:1:2::/64");
  assert.equal(addressGroup("[2001:db8:1:2::5]"), "2001:db8:1:2::/64");
  assert.notEqual(addressGroup("2001:db8:1:3::1"), addressGroup("2001:db8:1:2::1"));
  assert.equal(addressGroup("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(addressGroup("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressGroup("unknown"), "unknown");
});
