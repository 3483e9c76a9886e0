import { describe, expect, it } from 'vitest';
import { compilePolicySet, loadPolicySet, SCHEMA_FILE } from './load-policy-set.ts';
import { mayEverPermit } from './permit-scope.ts';
import { SHIPPED_POLICIES, SHIPPED_SCHEMA } from './test-fixtures.ts';

/** A set of the shipped schema and `text` as one policy file. */
function setOf(text: string) {
  return compilePolicySet({ schema: { file: SCHEMA_FILE, text: SHIPPED_SCHEMA }, policies: [{ file: 'test.cedar', text }] });
}

const agent = (id: string, groups: string[] = []) => ({ type: 'Agent' as const, id, groups });
const user = (id: string, groups: string[] = []) => ({ type: 'User' as const, id, groups });

describe('mayEverPermit: could a permit ever apply to this principal and one of these actions?', () => {
  it('a permit by group applies to members of the group only', () => {
    const set = setOf('@id("g") permit (principal in Group::"coding", action == Action::"code.exec", resource is Language) when { resource.name == "python" };');
    expect(mayEverPermit(set, agent('a', ['coding']), ['code.exec'])).toBe(true);
    expect(mayEverPermit(set, agent('a', ['research']), ['code.exec'])).toBe(false);
    // Another action of the same tool family is not granted by it.
    expect(mayEverPermit(set, agent('a', ['coding']), ['fs.read'])).toBe(false);
  });

  it('a permit naming one agent applies to that agent, not to another nor to a user of the same name', () => {
    const set = setOf('@id("one") permit (principal == Agent::"bob", action == Action::"fs.read", resource);');
    expect(mayEverPermit(set, agent('bob'), ['fs.read'])).toBe(true);
    expect(mayEverPermit(set, agent('alice'), ['fs.read'])).toBe(false);
    expect(mayEverPermit(set, user('bob'), ['fs.read'])).toBe(false);
  });

  it('`action in [...]` and action groups reach every action in them', () => {
    const list = setOf('@id("l") permit (principal, action in [Action::"fs.read", Action::"fs.write"], resource is File);');
    expect(mayEverPermit(list, agent('a'), ['fs.write'])).toBe(true);
    expect(mayEverPermit(list, agent('a'), ['fs.delete'])).toBe(false);
    // fs.delete is in the group fs.mutate (and destructive); fs.read is in neither.
    const group = setOf('@id("m") permit (principal, action in Action::"fs.mutate", resource);');
    expect(mayEverPermit(group, agent('a'), ['fs.delete'])).toBe(true);
    expect(mayEverPermit(group, agent('a'), ['fs.read'])).toBe(false);
    // A tool with several actions is listed when any one of them may be permitted.
    expect(mayEverPermit(group, agent('a'), ['fs.read', 'fs.write'])).toBe(true);
  });

  it('a resource type the action never applies to cannot match', () => {
    const set = setOf('@id("r") permit (principal, action, resource is Url);');
    expect(mayEverPermit(set, agent('a'), ['net.fetch'])).toBe(true);
    expect(mayEverPermit(set, agent('a'), ['code.exec'])).toBe(false);
  });

  it('forbids never grant: a set of forbids only shows nothing', () => {
    const set = setOf('@id("f") forbid (principal, action, resource);\n@approval("required")\n@id("gate") forbid (principal in Group::"coding", action == Action::"code.exec", resource);');
    for (const action of ['code.exec', 'fs.read', 'fs.delete', 'net.fetch', 'browse.page']) expect(mayEverPermit(set, agent('a', ['coding']), [action])).toBe(false);
  });

  it('a permit that needs an approval counts: the call may be made once approved', () => {
    const set = setOf('@approval("required")\n@id("d") permit (principal in Group::"coding", action == Action::"fs.delete", resource is File);');
    expect(mayEverPermit(set, agent('a', ['coding']), ['fs.delete'])).toBe(true);
  });

  it('conditions are not evaluated (an over-approximation): a permit whose `when` is never true still counts', () => {
    const set = setOf('@id("never") permit (principal, action == Action::"code.exec", resource) when { false };');
    expect(mayEverPermit(set, agent('a'), ['code.exec'])).toBe(true);
  });

  it('an action the schema does not declare is never permitted', () => {
    const set = setOf('@id("all") permit (principal, action, resource);');
    expect(mayEverPermit(set, agent('a'), ['no.such-action'])).toBe(false);
    expect(mayEverPermit(set, agent('a'), [])).toBe(false);
  });

  it('with the shipped policies: a user of group engineering may write files, a user without a grant may not', () => {
    const set = loadPolicySet(SHIPPED_POLICIES);
    expect(mayEverPermit(set, user('cordon-local-users#eve', ['engineering']), ['fs.write'])).toBe(true);
    expect(mayEverPermit(set, user('cordon-local-users#mallory'), ['fs.write'])).toBe(false);
    expect(mayEverPermit(set, agent('local'), ['code.exec'])).toBe(true);
    expect(mayEverPermit(set, agent('local'), ['net.fetch'])).toBe(false);
    expect(mayEverPermit(set, agent('c', ['coding']), ['fs.delete'])).toBe(true);
    expect(mayEverPermit(set, agent('nobody'), ['code.exec'])).toBe(false);
  });
});
