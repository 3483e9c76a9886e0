import { describe, expect, it } from 'vitest';
import { imageTag, loadImageRecipes, parseImageRecipe } from './image-recipe.ts';

const ok = 'name: python\ndescription: d\npackages: [python3-minimal]\nuser:\n  name: sandbox\n  uid: 1000\n';

describe('image recipes', () => {
  it('the bundled recipes load', () => {
    const recipes = loadImageRecipes();
    expect([...recipes.keys()].sort()).toEqual(['python', 'shell']);
    expect(recipes.get('python')?.user.uid).toBeGreaterThanOrEqual(1000);
  });

  it('reads a valid recipe', () => {
    expect(parseImageRecipe(ok, '/x/python.yaml').recipe).toMatchObject({ name: 'python', packages: ['python3-minimal'], user: { name: 'sandbox', uid: 1000 } });
  });

  it.each([
    ['root as the user', ok.replace('uid: 1000', 'uid: 0'), 'user.uid'],
    ['a system uid', ok.replace('uid: 1000', 'uid: 999'), 'user.uid'],
    ['a package name that is an option', ok.replace('[python3-minimal]', '["--force-unsafe-io"]'), 'packages[0]'],
    ['a package list with a comma trick', ok.replace('[python3-minimal]', '["a,b"]'), 'packages[0]'],
    ['an unknown field', ok + 'image: x\n', 'image'],
    ['a name that does not match its file', ok.replace('name: python', 'name: other'), 'name'],
    ['no packages field', ok.replace('packages: [python3-minimal]\n', ''), 'packages'],
    ['an alias', 'name: python\ndescription: &d d\npackages: []\nuser: {name: sandbox, uid: 1000}\nx: *d\n', '(yaml)'],
    ['a user with a shell-ish name', ok.replace('name: sandbox', 'name: "a:b"'), 'user.name'],
  ])('refuses %s, naming the field', (_, text, field) => {
    const { recipe, problems } = parseImageRecipe(text, '/x/python.yaml');
    expect(recipe).toBeNull();
    expect(problems.map((p) => p.field)).toContain(field);
  });

  it('a changed recipe or release gets a new tag; the same one keeps its tag', () => {
    const a = parseImageRecipe(ok, '/x/python.yaml').recipe;
    const b = parseImageRecipe(ok.replace('[python3-minimal]', '[python3-minimal, curl]'), '/x/python.yaml').recipe;
    if (a === null || b === null) throw new Error('recipes must parse');
    expect(imageTag(a, 'bookworm')).toMatch(/^cordon\/python:[0-9a-f]{16}$/);
    expect(imageTag(a, 'bookworm')).toBe(imageTag(a, 'bookworm'));
    expect(imageTag(b, 'bookworm')).not.toBe(imageTag(a, 'bookworm'));
    expect(imageTag(a, 'trixie')).not.toBe(imageTag(a, 'bookworm'));
  });
});
