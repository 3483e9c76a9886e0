import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';

/**
 * The HTTP floor for the session-call bench: a bare node:http server in its own
 * process that reads a POST body and answers a small JSON object, nothing else.
 * Run as a script it serves; startHttpEcho() starts it and ends it by its PID.
 */
export interface HttpEcho {
  readonly url: string;
  stop(): Promise<void>;
}

const ANSWER = JSON.stringify({ id: 'inv_0000000000000000000000000', tool: 'code', status: 'ok', output: { status: 'ok', value: 1, stdout: '', stderr: '', truncated: false, durationMs: 0.1 }, durationMs: 0.2 });

export async function startHttpEcho(): Promise<HttpEcho> {
  const child: ChildProcess = spawn(process.execPath, [new URL(import.meta.url).pathname, 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`the echo server exited with ${code}`)));
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise((done) => child.once('exit', done));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    },
  };
}

if (process.argv[2] === 'serve') {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ANSWER) }).end(ANSWER));
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') process.stdout.write(`http://127.0.0.1:${address.port}\n`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}
