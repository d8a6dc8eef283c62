/**
 * UTF-8 sizes of strings without encoding them (task quotas count message
 * bytes; the HTTP event store counts serialized events).
 *
 * @module
 */

/**
 * UTF-8 length of `text` without encoding it: a lone surrogate counts as
 * the 3 bytes of the U+FFFD that replaces it, as `TextEncoder` does.
 */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const point = text.codePointAt(i)!;
    if (point >= 0x10000) i++;
    bytes += point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
  }
  return bytes;
}
