/**
 * The bridge's version, in one place: `--version`, `--help`, `/health` and
 * the MCP `serverInfo` all report it. It matches `version` in `deno.json`
 * (tests/version_test.ts holds the two together).
 *
 * @module
 */

/** The version printed by `--version` and reported by `/health`. */
export const VERSION = "0.1.0";
