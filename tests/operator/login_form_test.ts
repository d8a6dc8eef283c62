/**
 * `LoginForms`: HMAC-bound CSRF tokens (nothing written to show a form),
 * their expiry, a key shared through KV, and the attempt count per form.
 */
import assert from "node:assert/strict";
import { FORM_ATTEMPTS, FORM_TTL_MS, LoginForms } from "../../src/operator/login_form.ts";

Deno.test("login forms: a form verifies with its own cookie only, until it expires", async () => {
  await using kv = await Deno.openKv(":memory:");
  const clock = { t: 5_000_000 };
  const forms = new LoginForms(kv, { now: () => clock.t });
  const a = await forms.issue();
  const b = await forms.issue();
  assert.notEqual(a.formId, b.formId);
  assert.ok(await forms.verify(a.formId, a.cookie));
  assert.ok(!await forms.verify(a.formId, b.cookie));
  assert.ok(!await forms.verify(b.formId, a.cookie));
  assert.ok(!await forms.verify(a.formId, undefined));
  assert.ok(!await forms.verify(undefined, a.cookie));
  assert.ok(!await forms.verify(`${a.formId}x`, a.cookie));
  assert.ok(!await forms.verify("not.a-form-id", a.cookie));
  // Only the key is stored: showing forms writes nothing else.
  let keys = 0;
  for await (const _ of kv.list({ prefix: [] })) keys++;
  assert.equal(keys, 1);
  clock.t += FORM_TTL_MS - 1;
  assert.ok(await forms.verify(a.formId, a.cookie));
  clock.t += 1;
  assert.ok(!await forms.verify(a.formId, a.cookie), "expired");
});

Deno.test("login forms: replicas on one KV share the key, however many start at once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const kvs = await Promise.all(Array.from({ length: 4 }, () => Deno.openKv(`${dir}/kv`)));
    const forms = kvs.map((kv) => new LoginForms(kv));
    const issued = await Promise.all(forms.map((f) => f.issue()));
    for (const f of forms) {
      for (const form of issued) assert.ok(await f.verify(form.formId, form.cookie));
    }
    for (const kv of kvs) kv.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("login forms: attempts are counted per form, concurrent ones too", async () => {
  await using kv = await Deno.openKv(":memory:");
  const forms = new LoginForms(kv);
  const { formId } = await forms.issue();
  const other = (await forms.issue()).formId;
  const burst = await Promise.all(Array.from({ length: 12 }, () => forms.reserve(formId)));
  assert.equal(burst.filter((r) => r.ok).length, FORM_ATTEMPTS);
  assert.deepEqual(
    burst.flatMap((r) => r.ok ? [r.attempt] : []).sort(),
    Array.from({ length: FORM_ATTEMPTS }, (_, i) => i + 1),
  );
  assert.deepEqual(await forms.reserve(other), { ok: true, attempt: 1 });
});
