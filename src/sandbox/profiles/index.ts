/**
 * Sandbox profiles' public API, for the runtime's wiring and the CLI. Everything
 * else in this folder is an implementation detail.
 */
export type { SandboxProfile, ProfileBackend, SandboxLimits, SandboxSessionLimits, SandboxProfileProblem, ContainerSettings } from './sandbox-profile.ts';
export { formatProfileProblem } from './sandbox-profile.ts';
export { SUPPORTED_BACKENDS } from './profile-backends.ts';
export { parseSandboxProfile, compileSandboxProfile } from './parse-sandbox-profile.ts';
export {
  loadSandboxProfiles,
  validateSandboxProfiles,
  BUNDLED_SANDBOX_PROFILE_DIR,
  MAX_PROFILE_FILE_BYTES,
  MAX_PROFILES,
  type SandboxProfileReport,
} from './load-sandbox-profiles.ts';
export { checkProfileReferences, findReferenceProblems, type ProfileReferences } from './check-profile-references.ts';
// The located-YAML reader, for the sandbox layer's other files (image recipes).
export { fieldPath, readFields, readInteger, readLocatedYaml, readMapping, readSequence, readString } from './located-yaml.ts';
