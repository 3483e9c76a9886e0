import { describe, expect, it } from 'vitest';
import { redactCredentialShapes } from './credential-shapes.ts';

const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MX0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const GH = `ghp_${'a1B2'.repeat(9)}`;
const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';

describe('credentials by their shape', () => {
  it.each([
    ['an AWS access key id', 'id=AKIAIOSFODNN7EXAMPLE;', 'id=[REDACTED aws-access-key-id];'],
    ['a temporary one', 'ASIAY34FZKBOKMUTVV7A', '[REDACTED aws-access-key-id]'],
    ['a GitHub token', `token ${GH} end`, 'token [REDACTED github-token] end'],
    ['a fine-grained GitHub token', `github_pat_${'A'.repeat(22)}_${'b'.repeat(59)}`, '[REDACTED github-token]'],
    ['a JWT', `jwt: ${JWT}.`, 'jwt: [REDACTED jwt].'],
    ['a PEM private key, whole', `before\n${PEM}\nafter`, 'before\n[REDACTED private key]\nafter'],
    ['a key cut short (no END)', 'x -----BEGIN RSA PRIVATE KEY-----\nMIIEow', 'x [REDACTED private key]'],
    ['an Authorization header', 'Authorization: Bearer sk-live-1234567890', 'Authorization: Bearer [REDACTED]'],
    ['one in a JSON log line', '{"authorization":"Basic dXNlcjpwYXNz"}', '{"authorization":"Basic [REDACTED]"}'],
    ['a proxy credential', 'proxy-authorization=Basic Y29yZG9uOnNlY3JldA==', 'proxy-authorization=Basic [REDACTED]'],
  ])('%s', (_what, input, expected) => {
    expect(redactCredentialShapes(input)).toBe(expected);
  });

  it.each([
    ['prose about authorization', 'Authorization is required before you deploy.'],
    ['a public key', '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----'],
    ['a short word starting like a token', 'ghp_short and AKIA12'],
    ['ordinary base64', 'eyJ0eXAiOiJKV1QifQ alone'],
  ])('leaves %s alone', (_what, input) => {
    expect(redactCredentialShapes(input)).toBe(input);
  });

  it('stays linear on output built to make it slow', () => {
    const begins = '-----BEGIN PRIVATE KEY-----\n'.repeat(40_000);
    const dots = `${'eyJ'.repeat(100_000)}.eyJ`;
    const auths = 'authorization:'.repeat(60_000);
    // Quadratic scanning would take minutes on these; each must simply answer.
    expect(redactCredentialShapes(begins)).toBe('[REDACTED private key]');
    expect(redactCredentialShapes(dots)).toBe(dots);
    expect(redactCredentialShapes(auths).length).toBeGreaterThan(0);
  });
});
