/**
 * A user: the issuer that vouches for them and the subject it names. Two
 * issuers can both say `sub: alice`; those are two different users, so a user
 * is never identified by its subject alone (not in a directory lookup, a Cedar
 * entity, a session key, a sandbox's owner, nor an audit record).
 */
export interface UserRef {
  /** The exact `iss` of the token that named the user (LOCAL_USER_ISSUER for local users). */
  readonly issuer: string;
  /** The token's `sub` (USER_ID_PATTERN: never contains `#`). */
  readonly subject: string;
}

/** Cordon's own user issuer (`cordon users add|token`): the issuer of every local user. */
export const LOCAL_USER_ISSUER = 'cordon-local-users';

/** Who is calling: the agent always, and the user it acts for when delegated. */
export interface Principal {
  readonly agent: string;
  readonly user: UserRef | null;
  /** The verified token's `jti`, for the audit record. */
  readonly tokenId: string;
  /** Seconds since epoch when the token stops being valid. */
  readonly expiresAt: number;
  /** Verbs the token is limited to (`scope`), or null when it carries no scope. */
  readonly scope: readonly string[] | null;
}

/**
 * The one string form of a user: `<issuer>#<subject>`. It keys the user
 * directory, sessions and sandbox ownership, names the Cedar `User` entity and
 * fills `user` in audit records. A subject never contains `#`, so splitting at
 * the last `#` gives the pair back whatever the issuer holds: no two users
 * share a key.
 */
export function userKey(user: UserRef): string {
  return `${user.issuer}#${user.subject}`;
}

/** userKey of the principal's user, or null when the agent acts for itself. */
export function principalUserKey(principal: Principal): string | null {
  return principal.user === null ? null : userKey(principal.user);
}

/**
 * A user named by an operator (`--user`, policy tests): `<issuer>#<subject>`, or a bare subject,
 * which is a local user. Returns null when the subject part is empty.
 */
export function parseUserRef(text: string): UserRef | null {
  const at = text.lastIndexOf('#');
  const ref = at < 0 ? { issuer: LOCAL_USER_ISSUER, subject: text } : { issuer: text.slice(0, at), subject: text.slice(at + 1) };
  return ref.issuer === '' || ref.subject === '' ? null : Object.freeze(ref);
}
