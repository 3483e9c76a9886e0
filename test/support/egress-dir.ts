import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SHIPPED_EGRESS = resolve(import.meta.dirname, '..', '..', 'egress-policies');

/**
 * A temporary egress policy folder for a test's own policies, holding the shipped ones the
 * shipped sandbox profiles name (the browser profile's browse-open): start-up refuses a
 * profile whose egress policy is not loaded. The caller removes it.
 */
export function makeEgressPolicyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-egress-'));
  copyFileSync(join(SHIPPED_EGRESS, 'browse-open.yaml'), join(dir, 'browse-open.yaml'));
  return dir;
}
