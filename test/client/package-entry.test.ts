import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

// Node itself (not the test runner's resolver) must find the client under the package's name,
// and only the client: the server's internals are not part of the package's public surface.
const ROOT = resolve(import.meta.dirname, '..', '..');
const node = (script: string) => promisify(execFile)(process.execPath, ['--no-node-snapshot', '--input-type=module', '-e', script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } });

it("resolves import 'cordon' to src/client/index.ts, and the client loads and exports Cordon", async () => {
  const { stdout } = await node("console.log(import.meta.resolve('cordon')); const m = await import('cordon'); console.log(typeof m.Cordon, typeof m.CordonClientError)");
  expect(stdout.trim().split('\n')).toEqual([pathToFileURL(resolve(ROOT, 'src/client/index.ts')).href, 'function function']);
});

it('refuses deep imports of the server through the package name', async () => {
  const failed = await node("await import('cordon/src/runner/runtime.ts')").catch((err: { stderr: string }) => err);
  expect('stderr' in failed ? failed.stderr : '').toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
});
