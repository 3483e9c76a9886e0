/**
 * A reader that stops early (`cordon audit tail --json | head`) closes the pipe. That ends a
 * one-shot command quietly, with its exit code, instead of a stack trace; a server keeps serving
 * (its log reader going away is no reason to stop answering agents).
 */
let exitOnBrokenPipe = true;

export function handleBrokenPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
      if (exitOnBrokenPipe && stream === process.stdout) process.exit(process.exitCode ?? 0);
      stream.destroy();
    });
  }
}

/** For `serve`: a closed stdout or stderr is ignored from now on. */
export function keepRunningOnBrokenPipe(): void {
  exitOnBrokenPipe = false;
}
