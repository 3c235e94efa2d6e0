// Headless Chromium for the dashboard's browser tests: Debian's `chromium` package (LEASH_CHROMIUM
// overrides its path), driven by playwright-core. Without it a test skips loudly; under CI=true a
// missing Chromium fails (scripts/run-tests.mjs sets LEASH_TEST_CHROMIUM=0 when it is not there).
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';

export const chromiumPath = process.env.LEASH_CHROMIUM || '/usr/bin/chromium';
const haveChromium = process.env.LEASH_TEST_CHROMIUM !== '0' && existsSync(chromiumPath);

/** chromiumSkip is the reason to skip a browser test, or false to run it. */
export const chromiumSkip: string | false =
  haveChromium || process.env.CI === 'true'
    ? false
    : `Chromium is not installed at ${chromiumPath} (apt-get install -y chromium, or set LEASH_CHROMIUM)`;

/** launchChromium starts headless Chromium, failing clearly when CI=true and it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `CI=true and Chromium is missing at ${chromiumPath}: .ci/run must apt-get install -y chromium`,
    );
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
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

/** artifactsDir is where the browser tests save their screenshots (never committed). */
export function artifactsDir(): string {
  const dir = join(tmpdir(), 'leash-dashboard-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}
