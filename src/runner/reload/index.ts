/**
 * Reloading agents, users, Cedar and egress policies while serving: the live set and its
 * holder, the reader start-up and reload share, and the reloader (docs/operations.md).
 */
export { createLiveHolder, liveAgents, livePolicyEngine, liveUsers, type LiveHolder, type LiveSet } from './live-set.ts';
export { formatReloadProblem, readLiveSet, type LiveSetRead, type ProfileEgressRef, type ReadLiveSetOptions, type ReloadProblem } from './read-live-set.ts';
export { createReloader, type Reloader, type ReloadResult } from './reloader.ts';
export { checkReloadFiles } from './check-reload-files.ts';
