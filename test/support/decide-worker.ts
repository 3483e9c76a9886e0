import { parentPort, workerData } from 'node:worker_threads';
import { openApprovalStore } from '../../src/approvals/approval-store.ts';

// One contender in a race to decide the same approval: its own thread and its own SQLite
// connection, released with the others at once (an Atomics gate), as separate processes would be.
const data = workerData as { dataDir: string; id: string; hash: string; nonce: string; approver: string; gate: SharedArrayBuffer };
const store = openApprovalStore(data.dataDir, { ttlMs: 60_000, maxPending: 10, maxPendingPerAgent: 10 });
const gate = new Int32Array(data.gate);
Atomics.add(gate, 1, 1);
Atomics.wait(gate, 0, 0);
let outcome: string;
try {
  store.decide({ id: data.id, verdict: 'approve', approver: data.approver, invocationHash: data.hash, nonce: data.nonce, nonceExpiresAtMs: Date.now() + 60_000 });
  outcome = 'won';
} catch (err) {
  outcome = (err as { code?: string }).code ?? String(err);
}
store.close();
parentPort?.postMessage(outcome);
