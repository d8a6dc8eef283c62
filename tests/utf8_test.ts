import assert from "node:assert/strict";
import { utf8Bytes } from "../src/utf8.ts";

Deno.test("utf8: byte counts agree with TextEncoder, astral and lone surrogates included", () => {
  for (
    const text of ["", "ascii", "é", "€", "😀", "a😀b", "\ud800", "x\udc00y", "\ud83d", "日本語"]
  ) {
    assert.equal(utf8Bytes(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
});
