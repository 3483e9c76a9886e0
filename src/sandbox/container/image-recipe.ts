import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMap, type Node, type YAMLMap } from 'yaml';
import { CordonError } from '../../core/errors.ts';
import { fieldPath, formatProfileProblem, readFields, readInteger, readLocatedYaml, readMapping, readSequence, readString, type SandboxProfileProblem } from '../profiles/index.ts';

/** How a sandbox image is built: Debian packages on a minimal root, and the user code runs as. */
export interface ImageRecipe {
  readonly name: string;
  readonly description: string;
  readonly packages: readonly string[];
  readonly user: { readonly name: string; readonly uid: number };
  readonly file: string;
}

export const BUNDLED_IMAGE_RECIPE_DIR = resolve(import.meta.dirname, '../../../sandboxes/images');
/** Bumped when the build steps change, so every image is rebuilt once. */
const BUILDER_VERSION = 1;
const MAX_RECIPE_BYTES = 64 * 1024;
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
// Debian package names (Policy §5.6.1), optionally with an architecture qualifier.
const PACKAGE = /^[a-z0-9][a-z0-9+.-]{1,99}$/;
const KEYS = new Set(['name', 'description', 'packages', 'user']);

/** Parses one recipe; problems name the file, line and field. */
export function parseImageRecipe(text: string, file: string): { recipe: ImageRecipe | null; problems: SandboxProfileProblem[] } {
  const read = readLocatedYaml(text, file);
  const at = read.at;
  if (!('root' in read)) return { recipe: null, problems: at.problems };
  const root = readMapping(at, read.root, '(root)');
  if (root === null) return { recipe: null, problems: at.problems };
  const fields = readFields(at, root, '');
  for (const [key, { key: node }] of fields) if (!KEYS.has(key)) at.fail(node, key, `unknown field; a recipe has ${[...KEYS].join(', ')}`);
  const get = (key: string) => {
    const f = fields.get(key);
    if (f === undefined || f.value === null) at.fail(root, key, 'is required');
    return f?.value ?? null;
  };
  const nameNode = get('name');
  const name = nameNode === null ? null : readString(at, nameNode, 'name');
  if (name !== null && !NAME.test(name)) at.fail(nameNode, 'name', 'must be lower-case letters, digits and dashes (1–63)');
  if (name !== null && file.endsWith('.yaml') && !file.endsWith(`/${name}.yaml`)) at.fail(nameNode, 'name', `must match the file name (${name}.yaml)`);
  const descNode = get('description');
  const description = descNode === null ? null : readString(at, descNode, 'description');
  // `packages: []` is a valid recipe (minbase alone), so an empty list is read, not refused.
  const packages: string[] = [];
  const pkgField = fields.get('packages');
  let items: Node[] = [];
  if (pkgField === undefined) at.fail(root, 'packages', 'is required (a list, [] for none)');
  else if (pkgField.value === null) at.fail(pkgField.key, 'packages', 'must be a list, [] for none');
  else items = readSequence(at, pkgField.value, 'packages') ?? [];
  for (const [i, item] of items.entries()) {
    const pkg = readString(at, item, `packages[${i}]`);
    if (pkg !== null && !PACKAGE.test(pkg)) at.fail(item, `packages[${i}]`, 'must be a Debian package name');
    else if (pkg !== null) packages.push(pkg);
  }
  if (items.length > 64) at.fail(pkgField?.value, 'packages', 'at most 64 packages');
  let user: ImageRecipe['user'] | null = null;
  const userNode = get('user');
  if (userNode !== null && isMap(userNode)) {
    const uf = readFields(at, userNode as YAMLMap, 'user');
    const un = uf.get('name')?.value ?? null;
    const uu = uf.get('uid')?.value ?? null;
    const uname = un === null ? (at.fail(userNode, 'user.name', 'is required'), null) : readString(at, un, fieldPath('user', 'name'));
    if (uname !== null && !/^[a-z][a-z0-9-]{0,30}$/.test(uname)) at.fail(un, 'user.name', 'must be a lower-case user name');
    // Never root, nor a system account: code in a sandbox runs unprivileged.
    const uid = uu === null ? (at.fail(userNode, 'user.uid', 'is required'), null) : readInteger(at, uu, fieldPath('user', 'uid'), 1000, 60000);
    for (const [key, { key: node }] of uf) if (key !== 'name' && key !== 'uid') at.fail(node, `user.${key}`, 'unknown field; user has name and uid');
    if (uname !== null && uid !== null) user = { name: uname, uid };
  } else if (userNode !== null) {
    readMapping(at, userNode, 'user');
  }
  if (at.problems.length > 0 || name === null || description === null || user === null) return { recipe: null, problems: at.problems };
  return { recipe: Object.freeze({ name, description, packages: Object.freeze(packages), user: Object.freeze(user), file }), problems: [] };
}

/** Every recipe in `dir` (`<name>.yaml`); throws CONFIG_INVALID naming each problem. */
export function loadImageRecipes(dir: string = BUNDLED_IMAGE_RECIPE_DIR): ReadonlyMap<string, ImageRecipe> {
  if (!existsSync(dir)) throw new CordonError('CONFIG_INVALID', `image recipe directory ${dir} does not exist`);
  const recipes = new Map<string, ImageRecipe>();
  const problems: SandboxProfileProblem[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (!entry.endsWith('.yaml')) continue;
    const file = join(dir, entry);
    if (statSync(file).size > MAX_RECIPE_BYTES) {
      problems.push({ file, line: 1, field: '(file)', reason: `larger than ${MAX_RECIPE_BYTES} bytes` });
      continue;
    }
    const { recipe, problems: p } = parseImageRecipe(readFileSync(file, 'utf8'), file);
    problems.push(...p);
    if (recipe !== null) recipes.set(recipe.name, recipe);
  }
  if (problems.length > 0) throw new CordonError('CONFIG_INVALID', problems.map(formatProfileProblem).join('\n'), { details: { problems } });
  return recipes;
}

/**
 * The image's tag: a hash of everything that decides its content (the recipe, the Debian
 * release, the build steps). The same recipe builds once; a changed one builds anew.
 */
export function imageTag(recipe: ImageRecipe, suite: string): string {
  const hash = createHash('sha256')
    .update(JSON.stringify({ v: BUILDER_VERSION, suite, name: recipe.name, packages: [...recipe.packages].sort(), user: recipe.user }))
    .digest('hex');
  return `cordon/${recipe.name}:${hash.slice(0, 16)}`;
}
