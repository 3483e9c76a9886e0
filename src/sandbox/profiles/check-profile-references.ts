import { profileFieldLine } from './parse-sandbox-profile.ts';
import { profileError, type SandboxProfile, type SandboxProfileProblem } from './sandbox-profile.ts';

/** The names a profile may refer to, from the registries its caller owns. */
export interface ProfileReferences {
  readonly tools: ReadonlySet<string>;
  readonly egressPolicies: ReadonlySet<string>;
  /** Image recipe names (sandboxes/images/<name>.yaml); without it, container images are not checked. */
  readonly imageRecipes?: ReadonlySet<string>;
}

type Profiles = ReadonlyMap<string, SandboxProfile> | readonly SandboxProfile[];

/**
 * Checks that every tool, egress policy and (given the recipes) container image
 * a profile names exists. Throws CONFIG_INVALID naming file, line and field
 * (`tools[1]`, `egressPolicy`, `image`) of every unknown name.
 */
export function checkProfileReferences(profiles: Profiles, references: ProfileReferences): void {
  const problems = findReferenceProblems(profiles, references);
  if (problems.length > 0) throw profileError(problems);
}

/** Like checkProfileReferences, but returns the problems. */
export function findReferenceProblems(profiles: Profiles, references: ProfileReferences): SandboxProfileProblem[] {
  const problems: SandboxProfileProblem[] = [];
  const list: readonly SandboxProfile[] = isList(profiles) ? profiles : [...profiles.values()];
  for (const profile of list) {
    const at = (field: string, reason: string): void => {
      problems.push({ file: profile.file, line: profileFieldLine(profile, field), field, reason });
    };
    profile.tools.forEach((tool, index) => {
      if (!references.tools.has(tool)) at(`tools[${index}]`, `"${tool}" is not a registered tool; known tools: ${known(references.tools)}`);
    });
    const policy = profile.egressPolicy;
    if (policy !== null && !references.egressPolicies.has(policy)) {
      at('egressPolicy', `"${policy}" is not a loaded egress policy; name one of ${known(references.egressPolicies)}, or null for no network`);
    }
    const image = profile.container?.image;
    const recipes = references.imageRecipes;
    if (image !== undefined && recipes !== undefined && !recipes.has(image)) {
      at('image', `"${image}" is not an image recipe (sandboxes/images/<name>.yaml); known recipes: ${known(recipes)}`);
    }
  }
  return problems;
}

function isList(profiles: Profiles): profiles is readonly SandboxProfile[] {
  return Array.isArray(profiles);
}

function known(names: ReadonlySet<string>): string {
  if (names.size === 0) return '(none)';
  const sorted = [...names].sort();
  return sorted.length > 20 ? `${sorted.slice(0, 20).join(', ')}, …` : sorted.join(', ');
}
