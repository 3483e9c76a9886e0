/**
 * The one place that imports Cedar. The `/nodejs` entry instantiates the wasm
 * module synchronously at import, so the engine is usable as soon as this
 * module loads. Preparsed schemas and policy sets live in the wasm module's
 * own (thread-local) storage, keyed by the names we give them.
 */
export {
  checkParseSchema,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  schemaToJson,
  statefulIsAuthorized,
  validate,
  getCedarVersion,
  isAuthorized,
} from '@cedar-policy/cedar-wasm/nodejs';
export type {
  ActionConstraint,
  AuthorizationAnswer,
  DetailedError,
  EntityJson,
  EntityUidJson,
  PolicyJson,
  PrincipalConstraint,
  ResourceConstraint,
  Context as CedarContext,
  CedarValueJson,
  TypeAndId,
} from '@cedar-policy/cedar-wasm/nodejs';
