import { readFileSync } from 'node:fs';

/**
 * Who owns a container: the runner process that made it, as `<boot id>:<pid>:<start ticks>`.
 * A pid alone is reused after the process dies; with the boot id and the process's start time
 * (from /proc) it names one process of one boot, so a crashed runner's containers are found as
 * orphans however many processes came after it.
 */
export function currentRunnerId(pid: number = process.pid): string {
  const start = processStartTicks(pid);
  if (start === null) throw new Error(`cannot read /proc/${pid}/stat`);
  return `${bootId()}:${pid}:${start}`;
}

/** True when the runner that wrote `runnerId` is still running (this boot, same pid, same start). */
export function isRunnerAlive(runnerId: string): boolean {
  const m = /^([0-9a-f-]{36}):(\d{1,10}):(\d{1,20})$/.exec(runnerId);
  if (m === null) return false;
  if (m[1] !== bootId()) return false;
  return processStartTicks(Number(m[2])) === m[3];
}

function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

function processStartTicks(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Field 22, starttime: rest[0] is field 3.
  return rest[19] ?? null;
}
