/** The consent page shows client-chosen text without controls that hide or reorder it. */
import assert from "node:assert/strict";
import { consentPage, displayText, MAX_SHOWN_LENGTH } from "../../src/auth/pages.ts";

/** Controls (C0 but line feed, DEL, C1), bidi controls and zero-width characters. */
const HIDDEN = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const HIDDEN_IN_PAGE = /(?!\n)[\p{Cc}\p{Cf}\u2028\u2029]/u;

Deno.test("displayText removes C0/C1 controls, bidi controls and zero-width characters", () => {
  const samples = [
    "Goo\u202Eelg\u202C",
    "a\u0085b\u009Bc\u0080",
    "x\u2066y\u2067z\u2068w\u2069",
    "\u200Eleft\u200Fright\u061C",
    "tab\tnew\nline\u0000",
    "zero\u200Bwidth\uFEFF",
  ];
  for (const sample of samples) assert.doesNotMatch(displayText(sample), HIDDEN, sample);
  assert.equal(displayText("Goo\u202Eelg\u202C"), "Gooelg");
  assert.equal(displayText("Claude \u00e9\u00e8 \u65e5\u672c"), "Claude \u00e9\u00e8 \u65e5\u672c");
  assert.equal(displayText("n".repeat(500)).length, MAX_SHOWN_LENGTH);
});

Deno.test("the consent page renders names, ids and hosts without hidden controls", () => {
  const { html } = consentPage({
    consentId: "c1",
    clientName: "Evil\u202Etxt.exe\u0085",
    clientId: "https://claude.ai/\u202Eoauth.json",
    redirectUri: "https://example.com/cb",
  });
  // The page's own markup has line feeds; nothing else hidden may appear.
  assert.doesNotMatch(html, HIDDEN_IN_PAGE);
  assert.match(html, /<bdi>Eviltxt\.exe<\/bdi>/);
  assert.match(html, /<bdi>example\.com<\/bdi>/);
});
