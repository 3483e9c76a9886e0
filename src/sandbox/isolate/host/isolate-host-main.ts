/**
 * Entry point of an isolate host: a child process the runner forks to run
 * untrusted code in isolates, so that nothing an isolate does (a V8 fatal
 * error, an abort, running out of memory) can take the runner down.
 *
 * It starts with an empty environment (no secret the runner was given is in
 * this process) and ends itself when its parent goes away.
 */
import { writeSync } from 'node:fs';
import type { SupervisorMessage } from '../ipc-protocol.ts';
import { createIsolateHost } from './isolate-host.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as { warmIsolates?: number; warmMemoryMb?: number };

if (typeof process.send !== 'function') {
  writeSync(2, 'isolate-host: must be started by the Cordon runner (no IPC channel)\n');
  process.exit(2);
}

const send = (message: unknown): void => {
  // A closed channel means the supervisor is gone; 'disconnect' below ends the process.
  if (process.connected) process.send?.(message);
};

const host = createIsolateHost({ send }, { warmIsolates: options.warmIsolates ?? 2, warmMemoryMb: options.warmMemoryMb ?? 64 });

process.on('message', (m) => host.handle(m as SupervisorMessage));
process.on('disconnect', () => {
  host.close();
  process.exit(0);
});
// An unobserved rejection is a bug here, not a reason to drop every call on this host.
process.on('unhandledRejection', (reason) => {
  writeSync(2, `isolate-host: unhandled rejection: ${String(reason).slice(0, 512)}\n`);
});

send({ t: 'ready' });
