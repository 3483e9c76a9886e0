import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Structured JSON logs on stderr, so stdout stays free for command output.
 * Fields that may carry credentials are redacted by path; tool output is never logged.
 */
export function createLogger(level: LogLevel = 'info', destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { service: 'cordon' },
      redact: {
        paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'privateKey', '*.privateKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * A log destination that removes known secret values from every line before it
 * is written. The redaction is set once secrets are loaded (after the logger
 * exists); until then lines pass through unchanged, and no secret is known yet.
 */
export function createRedactingDestination(destination: NodeJS.WritableStream = process.stderr): Writable & { setRedaction(redact: (line: string) => string): void } {
  let redact = (line: string) => line;
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      destination.write(redact(chunk.toString()));
      done();
    },
  });
  return Object.assign(stream, {
    setRedaction(fn: (line: string) => string) {
      redact = fn;
    },
  });
}
