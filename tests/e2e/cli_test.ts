/** The command line as users meet it: help, version, bad values, missing KV flag. */
import assert from "node:assert/strict";
import { baseEnv, MAIN, runMain } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "cli: --help lists options with env names; --version prints the version",
  opts,
  async () => {
    const help = await runMain(["--help"]);
    assert.equal(help.code, 0);
    for (
      const name of ["OPENCLAW_URL", "OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_INSTANCES", "--kv-path"]
    ) {
      assert.ok(help.stdout.includes(name), `help mentions ${name}`);
    }
    const version = await runMain(["-V"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout.trim(), /^openclaw-mcp \d+\.\d+\.\d+$/);
  },
);

Deno.test("cli: a bad value exits 2 with one line, no stack, no secret", opts, async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [[], { OPENCLAW_TIMEOUT_MS: "soon" }, /OPENCLAW_TIMEOUT_MS="soon": not a whole number/],
    [["--port", "99999"], {}, /--port="99999": out of range/],
    [[], {
      OPENCLAW_INSTANCES: '[{"name":"a","url":"ftp://x","token":"hunter2-secret"}]',
    }, /OPENCLAW_INSTANCES\[0\]\.url/],
    [["--nope"], {}, /Unknown option '--nope'/],
  ];
  for (const [args, env, pattern] of cases) {
    const run = await runMain(args, { env });
    assert.equal(run.code, 2, JSON.stringify(args));
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], /^openclaw-mcp: /);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(run.stderr, /hunter2|\n\s+at /);
    assert.equal(run.stdout, "");
  }
});

Deno.test("cli: a busy or impossible HTTP address exits 2 with one line", opts, async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = String((busy.addr as Deno.NetAddr).port);
    const inUse = await runMain(["--transport", "http", "--port", port]);
    assert.equal(inUse.code, 2, inUse.stderr);
    assert.match(inUse.stderr, /already in use; stop the other process or choose another port/);
    assert.doesNotMatch(inUse.stderr, /\n\s+at /);
  } finally {
    busy.close();
  }
  const bad = await runMain(["--transport", "http", "--host", "203.0.113.254", "--allow-insecure"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /not an address this machine can listen on/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});

Deno.test("cli: without --unstable-kv the server exits 2 naming the flag", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
    delete config.unstable;
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config));
    const out = await new Deno.Command(Deno.execPath(), {
      // The repo's lockfile pins every package, so nothing is fetched.
      args: [
        "run",
        "-A",
        "--quiet",
        "--lock",
        new URL("../../deno.lock", import.meta.url).pathname,
        "--frozen",
        "--config",
        `${dir}/deno.json`,
        MAIN,
      ],
      env: baseEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /--unstable-kv/);
    assert.match(stderr, /deno run -A --unstable-kv/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: the task store is opened at --kv-path and its folder created", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/deeper/tasks.kv`;
    const run = await runMain(["--kv-path", path], { stdin: "" });
    assert.equal(run.code, 0, run.stderr);
    assert.ok((await Deno.stat(path)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
