import { Client } from 'undici';
import { latencies, requestsPerSecond, type Target } from './http-load.ts';
import { percentile } from './stats.ts';
import { findTinyproxy, startTinyproxy, type TinyproxyPeer } from './tinyproxy-peer.ts';

/**
 * Cordon's egress proxy against a peer, Debian's tinyproxy, in one run. Both
 * forward plain HTTP (absolute-form GETs) to the same loopback upstream, and the
 * same undici client talks to both over loopback TCP: Cordon on its TCP channel
 * (with the sandbox's proxy credential), tinyproxy on its port. Keep-alive as each
 * supports it: Cordon keeps client connections open; tinyproxy closes after every
 * response, so its client opens a connection per request.
 *
 * The machine is small and shared, so every number is a ratio to the peer measured
 * in the same round, rounds interleave (peer, then Cordon) and we report the median
 * of the per-round ratios, with the medians of the raw numbers behind them.
 *
 *   egress_vs_peer_throughput_ratio          Cordon ÷ tinyproxy requests/s, CONCURRENCY clients
 *   egress_vs_peer_added_latency_ratio       Cordon's added p50 ÷ tinyproxy's (added = proxied − direct, same round)
 *   egress_vs_peer_new_conn_added_latency_ratio the same with a new client connection per GET for both
 */
const ROUNDS = 7;
const CONCURRENCY = 16;
const THROUGHPUT_MS = 1000;
const LATENCY_GETS = 400;
const NEW_CONN_GETS = 150;

export interface PeerSetup {
  readonly upstreamAddress: '127.0.0.1';
  readonly upstreamPort: number;
  /** Cordon's TCP channel: its port and the sandbox's Basic credential. */
  readonly cordonPort: number;
  readonly cordonUsername: string;
  readonly cordonPassword: string;
}

type PeerMetrics = Record<string, number | string | null>;

const METRIC_KEYS = [
  'egress_vs_peer_throughput_ratio',
  'egress_vs_peer_added_latency_ratio',
  'egress_vs_peer_new_conn_added_latency_ratio',
  'tinyproxy_throughput_rps',
  'egress_tcp_throughput_rps',
  'tinyproxy_added_latency_p50_ms',
  'egress_tcp_added_latency_p50_ms',
  'tinyproxy_new_conn_added_p50_ms',
  'egress_tcp_new_conn_added_p50_ms',
] as const;

export async function runPeerBench(setup: PeerSetup): Promise<PeerMetrics> {
  const binary = findTinyproxy();
  if (binary === null) return failed('tinyproxy is not installed; run `make bench` as root (it installs it with apt-get) or `apt-get install tinyproxy`');
  let peer: TinyproxyPeer;
  try {
    peer = await startTinyproxy(binary, setup.upstreamAddress);
  } catch (err) {
    return failed(`tinyproxy could not be started: ${(err as Error).message}`);
  }
  try {
    return { egress_peer: peer.version, egress_peer_concurrency: CONCURRENCY, egress_peer_rounds: ROUNDS, ...(await compare(setup, peer.port)) };
  } catch (err) {
    return failed(`peer comparison failed: ${(err as Error).message}`);
  } finally {
    await peer.stop();
  }
}

function failed(error: string): PeerMetrics {
  process.stderr.write(`bench: egress peer skipped: ${error}\n`);
  return { ...Object.fromEntries(METRIC_KEYS.map((k) => [k, null])), egress_peer_error: error };
}

async function compare(setup: PeerSetup, peerPort: number): Promise<Record<(typeof METRIC_KEYS)[number], number>> {
  const upstream = `${setup.upstreamAddress}:${setup.upstreamPort}`;
  const direct: Target = { client: () => new Client(`http://${upstream}`, { pipelining: 1 }), path: (p) => p, headers: { host: upstream } };
  // tinyproxy gets the IP literal: a name would send it to DNS, off the loopback.
  const peer: Target = { client: () => new Client(`http://127.0.0.1:${peerPort}`, { pipelining: 1 }), path: (p) => `http://${upstream}${p}`, headers: { host: upstream }, reset: true };
  const cordonAuthority = `up.test:${setup.upstreamPort}`;
  const cordon: Target = {
    client: () => new Client(`http://127.0.0.1:${setup.cordonPort}`, { pipelining: 1 }),
    path: (p) => `http://${cordonAuthority}${p}`,
    headers: { host: cordonAuthority, 'proxy-authorization': `Basic ${Buffer.from(`${setup.cordonUsername}:${setup.cordonPassword}`).toString('base64')}` },
  };

  for (const t of [direct, peer, cordon]) await latencies(t, 200, false);
  await requestsPerSecond(peer, CONCURRENCY, 300);
  await requestsPerSecond(cordon, CONCURRENCY, 300);

  const p50 = (xs: number[]): number => percentile(xs, 50);
  const raw = { peerRps: [] as number[], cordonRps: [] as number[], peerAdded: [] as number[], cordonAdded: [] as number[], peerNew: [] as number[], cordonNew: [] as number[] };
  const ratios = { rps: [] as number[], added: [] as number[], newConn: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const peerRps = await requestsPerSecond(peer, CONCURRENCY, THROUGHPUT_MS);
    const cordonRps = await requestsPerSecond(cordon, CONCURRENCY, THROUGHPUT_MS);
    const directKept = p50(await latencies(direct, LATENCY_GETS, false));
    const peerKept = p50(await latencies(peer, LATENCY_GETS, false)) - directKept;
    const cordonKept = p50(await latencies(cordon, LATENCY_GETS, false)) - directKept;
    const directNew = p50(await latencies(direct, NEW_CONN_GETS, true));
    const peerNew = p50(await latencies(peer, NEW_CONN_GETS, true)) - directNew;
    const cordonNew = p50(await latencies(cordon, NEW_CONN_GETS, true)) - directNew;
    raw.peerRps.push(peerRps);
    raw.cordonRps.push(cordonRps);
    raw.peerAdded.push(peerKept);
    raw.cordonAdded.push(cordonKept);
    raw.peerNew.push(peerNew);
    raw.cordonNew.push(cordonNew);
    ratios.rps.push(cordonRps / peerRps);
    // A round where the peer added nothing measurable has no meaningful ratio.
    if (peerKept > 0) ratios.added.push(cordonKept / peerKept);
    if (peerNew > 0) ratios.newConn.push(cordonNew / peerNew);
  }
  const round = (x: number, digits: number): number => Number(x.toFixed(digits));
  return {
    egress_vs_peer_throughput_ratio: round(p50(ratios.rps), 3),
    egress_vs_peer_added_latency_ratio: round(p50(ratios.added), 3),
    egress_vs_peer_new_conn_added_latency_ratio: round(p50(ratios.newConn), 3),
    tinyproxy_throughput_rps: round(p50(raw.peerRps), 0),
    egress_tcp_throughput_rps: round(p50(raw.cordonRps), 0),
    tinyproxy_added_latency_p50_ms: round(p50(raw.peerAdded), 3),
    egress_tcp_added_latency_p50_ms: round(p50(raw.cordonAdded), 3),
    tinyproxy_new_conn_added_p50_ms: round(p50(raw.peerNew), 3),
    egress_tcp_new_conn_added_p50_ms: round(p50(raw.cordonNew), 3),
  };
}
