import { ExitCode } from '../core/errors.ts';
import { handleBrokenPipes } from './broken-pipe.ts';
import { main } from './program.ts';

handleBrokenPipes();

const code = await main(process.argv.slice(2));
// `serve` keeps running on its own handles; every other command ends here.
if (code !== ExitCode.ok) process.exitCode = code;
