// Synchronous HS256 bearer-token check for the baseline servers: the same tokens the
// service accepts (signed with AUTH_JWT_SECRET), verified per request, so the baselines
// pay for authentication as the service does.
import crypto from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AuthError extends Error {}

/** Returns the verified claims of `Bearer <jwt>`; throws AuthError otherwise. */
export function verifyBearer(header, secret) {
  const match = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!match) throw new AuthError('missing bearer token');
  const [, head, payload, signature] = match;
  let alg;
  try {
    alg = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')).alg;
  } catch {
    throw new AuthError('malformed token header');
  }
  if (alg !== 'HS256') throw new AuthError('unexpected algorithm');
  const expected = crypto.createHmac('sha256', secret).update(`${head}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new AuthError('bad signature');
  }
  let claims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new AuthError('malformed token payload');
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) throw new AuthError('token expired');
  if (typeof claims.org_id !== 'string' || !UUID.test(claims.org_id)) throw new AuthError('token has no organization');
  return claims;
}
