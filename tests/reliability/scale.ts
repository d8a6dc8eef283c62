/** Test sizes: small for `deno task test`, large for `deno task soak` (SOAK=1). */
export const SOAK = Deno.env.get("SOAK") === "1";

/** `small` normally, `large` under `deno task soak`. */
export function scale(small: number, large: number): number {
  return SOAK ? large : small;
}
