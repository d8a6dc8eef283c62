/**
 * The `--help` text, written from the option table so it cannot drift from
 * what the loader reads.
 *
 * @module
 */
import { OPTIONS, type OptionSpec } from "./config_schema.ts";
import { VERSION } from "./version.ts";

/**
 * How an option is spelled on the command line, short form first; empty for
 * an env-only option.
 *
 * @example
 * ```ts
 * const url = OPTIONS.find((o) => o.key === "openclawUrl")!;
 * flagForms(url); // ["-u", "--openclaw-url VALUE"]
 * ```
 */
export function flagForms(spec: OptionSpec): string[] {
  if (!spec.flag) return [];
  const long = `--${spec.flag}${spec.switch ? "" : " VALUE"}`;
  return spec.short ? [`-${spec.short}`, long] : [long];
}

/** The `--help` text: every option with its flag, env names, default and config key. */
export function helpText(): string {
  const lines = [
    `openclaw-mcp ${VERSION}: MCP server bridging MCP clients to OpenClaw gateways`,
    "",
    "Usage: openclaw-mcp [options]",
    "",
    "Options (flags win over env, env over --config file, file over defaults):",
  ];
  const rows: [string, string][] = [
    ["-h, --help", "Show this help and exit"],
    ["-V, --version", "Print the version and exit"],
    ["--config FILE", "JSON file with any option below, keyed by its config key"],
  ];
  for (const spec of OPTIONS) {
    const flag = flagForms(spec).join(", ") || "(env only)";
    const env = spec.env ? ` [env ${spec.env.join(", ")}]` : "";
    const def = spec.defaultText ? ` (default: ${spec.defaultText})` : "";
    rows.push([flag, `${spec.help}${env}${def}; config key "${spec.key}"`]);
  }
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  for (const [a, b] of rows) lines.push(`  ${a.padEnd(width)}${b}`);
  return lines.join("\n");
}
