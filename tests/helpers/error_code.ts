/**
 * The code a promise fails with, for tests that assert on error codes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BridgeError } from "../../src/errors.ts";

/**
 * Awaits `promise` and returns the `code` of the {@linkcode BridgeError} it
 * rejects with, or `"no error"` when it resolves. Any other rejection fails
 * the test.
 */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BridgeError, String(error));
    return error.code;
  }
  return "no error";
}
