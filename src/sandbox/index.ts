/**
 * The sandbox layer's public API: the backend contract, sandbox identities,
 * profiles and the sandbox manager. Backends' internals (isolate hosts, their
 * IPC) stay behind this door.
 */
export type { Sandbox, SandboxBackend, SandboxSpec, SandboxEgress, ChannelPlacement, CodeRunRequest, CodeRunResult, RunStatus, FileTransferCaps, WorkspaceArchive } from './sandbox-backend.ts';
export type { HostFetch, HostFetchRequest, HostFetchResponse } from './sandbox-fetch.ts';
export { createSandboxIdentity, type SandboxIdentity, type BackendKind } from './sandbox-identity.ts';
export { createSandboxManager, type SandboxManager, type SandboxManagerOptions, type SessionSandboxInfo, type OpenEgress } from './sandbox-manager.ts';
export { createIsolateBackend, type IsolateBackend, type IsolateHostsConfig } from './isolate/isolate-backend.ts';
export type { MemoryCapMode } from './isolate/memory-cap.ts';
export { HOST_BASE_MB } from './isolate/host-pool.ts';
export type { SandboxProfile, SandboxLimits, ContainerSettings } from './profiles/index.ts';
export { loadSandboxProfiles, validateSandboxProfiles, checkProfileReferences, BUNDLED_SANDBOX_PROFILE_DIR, formatProfileProblem } from './profiles/index.ts';
export {
  createContainerBackend,
  type ContainerBackend,
  type ContainerBackendConfig,
  type ContainerProfileSettings,
  buildImage,
  connectDocker,
  currentRunnerId,
  hardenedContainerConfig,
  isRunnerAlive,
  listCordonContainers,
  removeOrphanContainers,
  imageTag,
  loadImageRecipes,
  parseDockerHost,
  readDebianArchive,
  BUNDLED_IMAGE_RECIPE_DIR,
  type BuiltImage,
  type ContainerLimits,
  type CordonContainer,
  type DebianArchive,
  type ImageRecipe,
} from './container/index.ts';
export {
  createHostWorkspace,
  hostWorkspaceLeases,
  sharedWorkspaceLease,
  parseWorkspacePath,
  workspaceResourcePath,
  MAX_COMPONENT_BYTES,
  MAX_DEPTH,
  MAX_PATH_BYTES,
  SANDBOX_WORKSPACE,
  type HostWorkspace,
  type HostWorkspaceQuota,
  type SandboxWorkspace,
  type EntryType,
  type WorkspaceStat,
  type ReadOptions,
  type ReadResult,
  type WriteOptions,
  type ListOptions,
  type ListEntry,
  type ListResult,
  type WorkspacePath,
  type WorkspaceLease,
} from './workspace/index.ts';
export type { BrowserHost } from './browser/browser-host.ts';
export { createChromiumHost, VIEWPORT, type ChromiumHostOptions } from './browser/chromium-host.ts';
export { CHROMIUM_PATH } from './browser/chromium-args.ts';
