/**
 * The fetch a sandbox is granted: requests and responses as copied plain data.
 * The sandbox's identity is bound into the function by whoever opened its
 * egress, never read from the request.
 */
export interface HostFetchRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array | string | null;
  readonly redirect: 'follow' | 'manual' | 'error';
}

export interface HostFetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
  /** UTF-8 decoding of body (an isolate has no TextDecoder). */
  readonly text: string;
  readonly url: string;
  readonly redirected: boolean;
  /**
   * Set when Cordon refused (the response is Cordon's own, not the upstream's): host-side
   * tools read this, never the `x-cordon-error` header, which an upstream could send too.
   */
  readonly refused?: { readonly code: string; readonly reason: string };
}

/** Aborted when the call ends, so no request outlives it; responses larger than maxResponseBytes are refused. */
export type HostFetch = (request: HostFetchRequest, signal: AbortSignal, limits: { readonly maxResponseBytes: number }) => Promise<HostFetchResponse>;
