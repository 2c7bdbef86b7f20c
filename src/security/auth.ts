import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { unauthenticated } from '../graphql/errors.ts';

export const SCOPES = [
  'agent:read',
  'agent:create',
  'agent:update',
  'agent:delete',
  'agent:credentials:read',
  'audit:read',
  'workspace:create',
  'workspace:delete',
  'webhooks:manage',
  'platform:admin',
] as const;

export type Scope = (typeof SCOPES)[number];

export interface Principal {
  subject: string;
  actorType: 'USER' | 'SERVICE';
  /** Null only on platform-admin tokens. */
  organizationId: string | null;
  /** Set on workspace-bound tokens. */
  workspaceId: string | null;
  /** As granted; `*` grants every scope. */
  scopes: readonly string[];
  /** When the token expires (ms since the epoch); null when it never does. */
  expiresAt: number | null;
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.includes('*') || principal.scopes.includes(scope);
}

const uuid = z.string().uuid();

const claimsSchema = z.object({
  sub: z.string().min(1).max(255),
  actor_type: z.enum(['user', 'service']).default('user'),
  org_id: uuid.optional(),
  workspace_id: uuid.optional(),
  scope: z.string().max(4096).default(''),
});

export interface AuthOptions {
  jwtSecret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export type TokenVerifier = (token: string) => Promise<Principal>;

/** How long a verified token is trusted without checking its signature again. */
const VERIFIED_TOKEN_TTL_MS = 60_000;
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export function createTokenVerifier(options: AuthOptions): TokenVerifier {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (options.jwksUrl) {
    key = createRemoteJWKSet(new URL(options.jwksUrl));
    algorithms = ['RS256', 'ES256'];
  } else if (options.jwtSecret) {
    key = new TextEncoder().encode(options.jwtSecret);
    algorithms = ['HS256'];
  } else {
    throw new Error('Set AUTH_JWT_SECRET or AUTH_JWKS_URL');
  }
  // Verifying a signature costs more than the rest of a small request. A token that
  // verified is trusted again for a minute at most, and never past its own expiry;
  // failures are never cached.
  const verified = new LRUCache<string, Principal>({ max: VERIFIED_TOKEN_CACHE_SIZE });
  return async (token) => {
    const known = verified.get(token);
    if (known) return known;
    const principal = await verify(token);
    const ttl = Math.min(VERIFIED_TOKEN_TTL_MS, (principal.expiresAt ?? Infinity) - Date.now());
    if (ttl > 0) verified.set(token, principal, { ttl });
    return principal;
  };

  async function verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ['sub'],
      }));
    } catch (error) {
      const reason = (error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token';
      throw unauthenticated(reason);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw unauthenticated('invalid token claims');
    const { sub, actor_type, org_id, workspace_id, scope } = claims.data;
    if (workspace_id && !org_id) throw unauthenticated('a workspace-bound token needs org_id');
    return Object.freeze({
      subject: sub,
      actorType: actor_type === 'service' ? 'SERVICE' : 'USER',
      organizationId: org_id ?? null,
      workspaceId: workspace_id ?? null,
      scopes: Object.freeze(scope.split(/\s+/).filter(Boolean)),
      expiresAt: payload.exp === undefined ? null : payload.exp * 1000,
    });
  }
}

export function bearerToken(header: string | null): string {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match) throw unauthenticated('missing bearer token');
  return match[1]!;
}
