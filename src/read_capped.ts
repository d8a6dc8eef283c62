/**
 * Reading an HTTP body with a size cap, so a hostile or broken peer cannot
 * make us buffer without bound.
 *
 * @module
 */

/** Thrown when a body exceeds its cap. */
export class BodyTooLarge extends Error {
  /** Creates the error for a cap of `max` bytes. */
  constructor(max: number) {
    super(`body larger than ${max} bytes`);
    this.name = "BodyTooLarge";
  }
}

/**
 * Reads `response`'s body as text, refusing more than `max` bytes (checked
 * against Content-Length first, then while reading).
 *
 * @throws {BodyTooLarge} past the cap; the body is cancelled.
 */
export async function readCapped(response: Response, max: number): Promise<string> {
  const length = Number(response.headers.get("content-length") ?? "0");
  if (length > max) {
    await response.body?.cancel();
    throw new BodyTooLarge(max);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      total += value.byteLength;
      if (total > max) throw new BodyTooLarge(max);
      parts.push(value);
    }
  } finally {
    if (!ended) reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.byteLength;
  }
  return new TextDecoder().decode(all);
}
