import type { CordonConfig } from '../../config/config-schema.ts';
import { CordonError } from '../../core/errors.ts';
import { createDecisionCache } from '../../policy/index.ts';
import { loadSandboxProfiles } from '../../sandbox/index.ts';
import { problemsOf, readLiveSet, type ReloadProblem } from './read-live-set.ts';

/**
 * `cordon reload`, before it signals anything: the files a reload would read, checked with the
 * same reader the server uses, so a bad file is named even when no server runs. Writes nothing.
 */
export function checkReloadFiles(config: CordonConfig): { readonly problems: readonly ReloadProblem[]; readonly policyVersion: string | null } {
  let profiles;
  try {
    profiles = [...loadSandboxProfiles(config.sandbox.profileDir).values()].map((p) => ({ name: p.name, file: p.file, egressPolicy: p.egressPolicy }));
  } catch (err) {
    return { problems: problemsOf(err instanceof CordonError ? err : new CordonError('CONFIG_INVALID', (err as Error).message)), policyVersion: null };
  }
  const read = readLiveSet(config, { createMissingKeys: false, cache: createDecisionCache({ maxEntries: 1 }), profiles });
  if (!read.ok) return { problems: read.problems, policyVersion: null };
  const version = read.set.policy.version;
  read.set.policy.close();
  return { problems: [], policyVersion: version };
}
