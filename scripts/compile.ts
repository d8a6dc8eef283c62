/**
 * `deno task compile`: single binaries in `dist/` for every target, with KV
 * enabled and only the permissions the server needs (net, env, read, write).
 *
 * `deno task compile --smoke` builds only the host target with DENORT_BIN set
 * to the installed deno binary (for machines that cannot download deno's
 * runtime): it checks type-checking and embedding, and that a file came out.
 * That output is the deno CLI, not our server, so it is never run.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Every target we ship. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/** The permissions the server needs, and nothing else. */
export const PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];

const { values } = parseArgs({
  args: Deno.args,
  options: { smoke: { type: "boolean" }, target: { type: "string", multiple: true } },
});
const root = new URL("../", import.meta.url).pathname;
const host = Deno.build.target;
const targets = values.smoke ? [host] : values.target ?? TARGETS;
const env: Record<string, string> = {};
if (values.smoke) env.DENORT_BIN = Deno.env.get("DENORT_BIN") ?? Deno.execPath();

await Deno.mkdir(`${root}dist`, { recursive: true });
let failed = 0;
for (const target of targets) {
  const output = `${root}dist/openclaw-mcp-${target}`;
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--unstable-kv",
      ...PERMISSIONS,
      "--exclude-unused-npm",
      "--target",
      target,
      "--output",
      output,
      `${root}main.ts`,
    ],
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  const file = target.includes("windows") ? `${output}.exe` : output;
  const size = await Deno.stat(file).then((s) => s.size, () => 0);
  if (!result.success || size === 0) {
    console.error(`compile ${target}: FAILED`);
    failed++;
    continue;
  }
  console.log(`compile ${target}: ${file} (${(size / 1048576).toFixed(1)} MiB)`);
}
if (values.smoke && !failed) {
  console.log(
    "compile smoke: OK. The runtime here is the installed deno binary (DENORT_BIN), so the file is the deno CLI, not a runnable server; it was only built, not run.",
  );
}
Deno.exit(failed ? 1 : 0);
