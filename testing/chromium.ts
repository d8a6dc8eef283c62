/**
 * Headless Chromium for the browser tests (Debian's, installed by
 * `.ci/run`; `CHROMIUM_PATH` overrides): where it is, whether it is there
 * (a suite skips, saying why, when not), and one way to launch it.
 *
 * @module
 */
import { type Browser, chromium } from "playwright-core";

/** The Chromium binary the browser tests drive. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/**
 * Whether Chromium is installed; when not, prints one line saying that
 * `suite` is skipped and how to install it.
 */
export async function chromiumAvailable(suite: string): Promise<boolean> {
  const available = await Deno.stat(CHROMIUM).then(() => true, () => false);
  if (!available) {
    console.log(`${suite} skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  }
  return available;
}

/** Launches headless Chromium, quiet and offline (no sandbox, GPU, sync or update checks). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
  });
}
