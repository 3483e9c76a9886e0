import { describe } from 'vitest';

/**
 * For suites that need infrastructure a laptop may lack (a Docker engine, Chromium):
 * they skip where it is missing, except when CORDON_REQUIRE_ALL_SUITES=1 (set by
 * .ci/run), where a missing dependency fails the run instead of passing silently.
 */
export function describeWith(what: string, available: boolean, name: string, body: () => void, env: Readonly<Record<string, string | undefined>> = process.env): void {
  if (available) return void describe(name, body);
  if (env.CORDON_REQUIRE_ALL_SUITES === '1') {
    describe(name, () => {
      throw new Error(`${name}: needs ${what}, which is not available, and CORDON_REQUIRE_ALL_SUITES=1 forbids skipping`);
    });
    return;
  }
  describe.skip(`${name} (skipped: ${what} not available)`, body);
}
