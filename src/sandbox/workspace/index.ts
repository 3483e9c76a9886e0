/** Sandbox workspaces: the one path parser, the contract both backends meet, and the host folder kind. */
export type { SandboxWorkspace, EntryType, WorkspaceStat, ReadOptions, ReadResult, WriteOptions, ListOptions, ListEntry, ListResult, WorkspaceLease } from './sandbox-workspace.ts';
export { createHostWorkspace, hostWorkspaceLeases, sharedWorkspaceLease, type HostWorkspace, type HostWorkspaceQuota } from './host-workspace.ts';
export { MAX_COMPONENT_BYTES, MAX_DEPTH, MAX_PATH_BYTES, SANDBOX_WORKSPACE, parseWorkspacePath, workspaceResourcePath, type WorkspacePath } from './workspace-path.ts';
