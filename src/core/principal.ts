/** Who is calling: the agent always, and the user it acts for when delegated. */
export interface Principal {
  readonly agent: string;
  readonly user: string | null;
  /** The verified token's `jti`, for the audit record. */
  readonly tokenId: string;
  /** Seconds since epoch when the token stops being valid. */
  readonly expiresAt: number;
  /** Verbs the token is limited to (`scope`), or null when it carries no scope. */
  readonly scope: readonly string[] | null;
}
