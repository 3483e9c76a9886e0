import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Client } from 'undici';
import { ASSUMED_PUBLIC_ADDRESS, createDirectDialer, createEgressGuard, createEgressProxy, createStaticResolver, decide, DialError, parseEgressPolicy, type Dialer } from '../src/egress/index.ts';
import { testTls } from '../test/support/test-tls.ts';
import { runPeerBench } from './egress-peer-bench.ts';
import { latencies, type Target } from './http-load.ts';

/**
 * Egress benchmarks (issue 4, item 11). Upstream, proxy and client each run on
 * their own thread, as they would be separate processes in production. Every
 * connection goes to 127.0.0.1 or the proxy's unix socket: the clients dial
 * UPSTREAM_ADDRESS only, the proxy's dialer refuses any other address, and the
 * decision bench resolves from a static table and never dials.
 *
 *   egress_throughput_ratio        256 MiB plain HTTP through the proxy ÷ direct
 *   egress_connect_tls_throughput_ratio 256 MiB of HTTPS through a CONNECT tunnel ÷ direct HTTPS
 *   egress_added_latency_p50_ms    small GETs on a kept-alive connection, proxy p50 − direct p50
 *   egress_new_conn_added_p50_ms   the same with a new client connection per GET
 *   egress_decision_p50_us         one decide() against a 10,000-rule policy
 *   egress_vs_peer_*, tinyproxy_*, egress_tcp_*  against tinyproxy, both over TCP (egress-peer-bench.ts)
 */
const UPSTREAM_ADDRESS = '127.0.0.1';
const BIG_BYTES = 256 * 1024 * 1024;

// The upstream gets the server key and certificate from the main thread: a worker
// has its own module state and would otherwise make a second, unrelated CA.
type Role = { role: 'upstream'; key: string; cert: string } | { role: 'proxy'; upstreamPort: number; tlsPort: number };

if (!isMainThread) await runWorker(workerData as Role);

async function runWorker(role: Role): Promise<void> {
  if (role.role === 'upstream') {
    const chunk = Buffer.alloc(1 << 20, 97);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      req.resume();
      if (req.url?.startsWith('/big') === true) {
        res.writeHead(200, { 'content-length': String(BIG_BYTES) });
        let left = BIG_BYTES;
        const pump = (): void => {
          while (left > 0) {
            left -= chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      res.writeHead(200, { 'content-length': '2', 'content-type': 'text/plain' }).end('ok');
    };
    const server = createServer(handler);
    const tlsServer = createHttpsServer({ key: role.key, cert: role.cert }, handler);
    server.keepAliveTimeout = 60_000;
    const listen = (s: typeof server | typeof tlsServer): Promise<number> =>
      new Promise((done) =>
        s.listen(0, UPSTREAM_ADDRESS, () => {
          const addr = s.address();
          done(typeof addr === 'object' && addr !== null ? addr.port : 0);
        }),
      );
    const [port, tlsPort] = await Promise.all([listen(server), listen(tlsServer)]);
    parentPort?.postMessage({ port, tlsPort });
    parentPort?.on('message', () => process.exit(0));
    return;
  }
  const policy = parseEgressPolicy(
    `name: bench\nallow:\n  - host: up.test\n    ports: [${role.upstreamPort}]\n  - host: secure.test\n    ports: [${role.tlsPort}]\nallow_cidrs: [${UPSTREAM_ADDRESS}/32]\n`,
    'bench.yaml',
  );
  const guard = createEgressGuard({ policies: new Map([[policy.name, policy]]), resolver: createStaticResolver({ 'up.test': UPSTREAM_ADDRESS, 'secure.test': UPSTREAM_ADDRESS }) });
  const socketDir = await mkdtemp(join(tmpdir(), 'ceb-'));
  // The TCP channel (loopback, per-sandbox credential) is for the peer comparison:
  // tinyproxy cannot listen on a unix socket, and both must get the same transport.
  const proxy = createEgressProxy({ guard, audit: { record: () => undefined }, socketDir, dialer: upstreamOnlyDialer(), tcp: { host: UPSTREAM_ADDRESS, port: 0 }, limits: { maxRequests: Number.MAX_SAFE_INTEGER, maxRequestsPerSecond: 1e9, requestBurst: 1e9, maxTotalBytes: Number.MAX_SAFE_INTEGER } });
  await proxy.start();
  const channel = await proxy.openChannel({ id: 'bench', uri: 'spiffe://cordon.bench/sandbox/bench/bench', profile: 'bench', egressPolicy: 'bench', agent: 'bench', user: null, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
  parentPort?.postMessage({ socketPath: channel.socketPath, tcpPort: proxy.tcpPort, username: channel.username, password: channel.password } satisfies ProxyInfo);
  parentPort?.on('message', () => {
    void proxy.close().then(() => rm(socketDir, { recursive: true, force: true })).then(() => process.exit(0));
  });
}

/** The proxy may dial the upstream worker and nothing else. */
function upstreamOnlyDialer(): Dialer {
  const direct = createDirectDialer();
  return {
    dial: (address, port, signal) =>
      address === UPSTREAM_ADDRESS ? direct.dial(address, port, signal) : Promise.reject(new DialError('upstream_failed', `egress bench dials ${UPSTREAM_ADDRESS} only, not ${address}:${port}`)),
  };
}

interface ProxyInfo {
  socketPath: string;
  tcpPort: number | null;
  username: string;
  password: string;
}

function startWorker<T>(role: Role): Promise<{ worker: Worker; info: T }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: role });
  return new Promise((resolve, reject) => {
    worker.once('message', (info: T) => resolve({ worker, info }));
    worker.once('error', reject);
  });
}

function stop(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    worker.once('exit', () => resolve());
    worker.postMessage('stop');
  });
}

function p50(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

async function timeBig(target: Target): Promise<number> {
  const client = target.client();
  try {
    const t0 = performance.now();
    const res = await client.request({ path: target.path('/big'), method: 'GET', headers: target.headers });
    let n = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) n += chunk.length;
    if (n !== BIG_BYTES) throw new Error(`got ${n} bytes`);
    return (BIG_BYTES / (performance.now() - t0)) * 1000;
  } finally {
    await client.close();
  }
}

/** undici connector that opens a CONNECT tunnel on the sandbox socket and runs TLS inside it. */
function tunnelConnector(socketPath: string, authority: string, ca: Buffer) {
  return (_opts: unknown, callback: (err: Error | null, socket: Socket | null) => void): void => {
    const req = httpRequest({ socketPath, method: 'CONNECT', path: authority });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) return callback(new Error(`CONNECT answered ${res.statusCode}`), null);
      const tls = tlsConnect({ socket, servername: 'secure.test', ca });
      tls.once('secureConnect', () => callback(null, tls));
      tls.once('error', (err) => callback(err, null));
    });
    req.on('error', (err) => callback(err, null));
    req.end();
  };
}

async function decisionBench(): Promise<{ p50us: number; loadMs: number }> {
  const lines = ['name: big', 'allow:'];
  for (let i = 0; i < 5000; i++) lines.push(`  - host: host${i}.example${i % 97}.com`, `  - host: "*.svc${i}.example${i % 89}.net"`, '    ports: [443, 8443]');
  const t0 = performance.now();
  const policy = parseEgressPolicy(lines.join('\n'), 'big.yaml');
  const loadMs = performance.now() - t0;
  const resolver = createStaticResolver({}, { fallback: [ASSUMED_PUBLIC_ADDRESS] });
  const urls = [];
  for (let i = 0; i < 1000; i++) {
    urls.push(`https://host${(i * 7) % 5000}.example${((i * 7) % 5000) % 97}.com/x`);
    urls.push(`https://a.b.svc${(i * 13) % 5000}.example${((i * 13) % 5000) % 89}.net/y`);
    urls.push(`https://miss${i}.example.org/`);
  }
  for (const url of urls) await decide(policy, { url }, resolver); // warm up
  const times: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (const url of urls) {
      const t = performance.now();
      await decide(policy, { url }, resolver);
      times.push((performance.now() - t) * 1000);
    }
  }
  return { p50us: p50(times), loadMs };
}

export async function runEgressBench(): Promise<Record<string, number | string | null>> {
  const tls = testTls();
  const up = await startWorker<{ port: number; tlsPort: number }>({ role: 'upstream', key: tls.key.toString(), cert: tls.cert.toString() });
  const px = await startWorker<ProxyInfo>({ role: 'proxy', upstreamPort: up.info.port, tlsPort: up.info.tlsPort });
  const { ca } = tls;
  const tlsDirect: Target = { client: () => new Client(`https://${UPSTREAM_ADDRESS}:${up.info.tlsPort}`, { connect: { ca, servername: 'secure.test' } }), path: (p) => p, headers: { host: 'secure.test' } };
  const tlsTunnel: Target = {
    client: () => new Client(`https://secure.test:${up.info.tlsPort}`, { connect: tunnelConnector(px.info.socketPath, `secure.test:${up.info.tlsPort}`, ca) as never }),
    path: (p) => p,
    headers: { host: 'secure.test' },
  };
  const origin = `http://${UPSTREAM_ADDRESS}:${up.info.port}`;
  const direct: Target = { client: () => new Client(origin, { pipelining: 1 }), path: (p) => p, headers: { host: 'up.test' } };
  const proxied: Target = { client: () => new Client('http://localhost', { socketPath: px.info.socketPath, pipelining: 1 }), path: (p) => `http://up.test:${up.info.port}${p}`, headers: { host: 'up.test' } };
  try {
    const d: number[] = [];
    const p: number[] = [];
    const td: number[] = [];
    const tp: number[] = [];
    for (let i = 0; i < 3; i++) {
      d.push(await timeBig(direct));
      p.push(await timeBig(proxied));
      td.push(await timeBig(tlsDirect));
      tp.push(await timeBig(tlsTunnel));
    }
    await latencies(direct, 300, false);
    await latencies(proxied, 300, false);
    const keptDirect = p50(await latencies(direct, 3000, false));
    const keptProxied = p50(await latencies(proxied, 3000, false));
    const newDirect = p50(await latencies(direct, 1000, true));
    const newProxied = p50(await latencies(proxied, 1000, true));
    if (px.info.tcpPort === null) throw new Error('the egress proxy did not open its TCP channel');
    const peer = await runPeerBench({ upstreamAddress: UPSTREAM_ADDRESS, upstreamPort: up.info.port, cordonPort: px.info.tcpPort, cordonUsername: px.info.username, cordonPassword: px.info.password });
    const decision = await decisionBench();
    const round = (x: number, digits: number): number => Number(x.toFixed(digits));
    return {
      egress_throughput_ratio: round(Math.max(...p) / Math.max(...d), 3),
      egress_direct_throughput_mib_s: round(Math.max(...d) / 2 ** 20, 0),
      egress_connect_tls_throughput_ratio: round(Math.max(...tp) / Math.max(...td), 3),
      egress_direct_tls_throughput_mib_s: round(Math.max(...td) / 2 ** 20, 0),
      egress_added_latency_p50_ms: round(keptProxied - keptDirect, 3),
      egress_new_conn_added_p50_ms: round(newProxied - newDirect, 3),
      egress_decision_p50_us: round(decision.p50us, 2),
      egress_policy_10k_load_ms: round(decision.loadMs, 0),
      ...peer,
    };
  } finally {
    await Promise.all([stop(px.worker), stop(up.worker)]);
  }
}

if (isMainThread && process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  console.log(JSON.stringify(await runEgressBench()));
}
