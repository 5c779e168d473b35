// Debian's Chromium (/usr/bin/chromium, installed by .ci/browser-setup.sh), as the browser tests
// drive it with playwright-core, which never downloads a browser of its own.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Whether the browser tests can run: without Chromium they are skipped with a warning, unless
 * REQUIRE_BROWSER=1 (CI), which makes a missing browser an error.
 */
export function hasBrowser(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.REQUIRE_BROWSER === '1') {
    throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: run bash .ci/browser-setup.sh first.`);
  }
  console.warn(
    `[tests] ${CHROMIUM} is missing: the ${what} browser test is SKIPPED. ` +
      'Install it with `bash .ci/browser-setup.sh` (Debian chromium, as root).',
  );
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags, Chromium keeps trying to reach Google's hosts,
    // which this machine's closed network refuses.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
