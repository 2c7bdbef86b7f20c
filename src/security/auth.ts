import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { unauthenticated } from '../graphql/errors.ts';

/** The scopes an organization's token may hold; `*` on such a token means exactly these. */
export const ORGANIZATION_SCOPES = [
  'agent:read',
  'agent:create',
  'agent:update',
  'agent:delete',
  'agent:credentials:read',
  'audit:read',
  'workspace:create',
  'workspace:delete',
  'webhooks:manage',
] as const;

/** Every scope: the organization's, and the platform's, held only by tokens without `org_id`. */
export const SCOPES = [...ORGANIZATION_SCOPES, 'platform:admin'] as const;

export type Scope = (typeof SCOPES)[number];

/**
 * The scopes a token holds in effect (SPEC §1, §17): `*` is every scope of its kind, and
 * `platform:admin` counts only on a token without `org_id` — on an organization's token,
 * `*` never includes it and naming it is ignored, so no tenant can change what every
 * other tenant sees. Names that are no scope are dropped. In the order of SCOPES.
 */
export function effectiveScopes(granted: readonly string[], organizationId: string | null): readonly Scope[] {
  const kind: readonly Scope[] = organizationId ? ORGANIZATION_SCOPES : SCOPES;
  return granted.includes('*') ? kind : kind.filter((scope) => granted.includes(scope));
}

export interface Principal {
  subject: string;
  actorType: 'USER' | 'SERVICE';
  /** Null only on platform-admin tokens. */
  organizationId: string | null;
  /** Set on workspace-bound tokens. */
  workspaceId: string | null;
  /** The scopes it holds in effect (effectiveScopes): `*` spelled out, `platform:admin` only without an organization. */
  scopes: readonly Scope[];
  /** When the token expires (ms since the epoch); null when it never does. */
  expiresAt: number | null;
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope);
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
      throw unauthenticated(reason, true);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw unauthenticated('invalid token claims', true);
    const { sub, actor_type, org_id, workspace_id, scope } = claims.data;
    if (workspace_id && !org_id) throw unauthenticated('a workspace-bound token needs org_id', true);
    return Object.freeze({
      subject: sub,
      actorType: actor_type === 'service' ? 'SERVICE' : 'USER',
      organizationId: org_id ?? null,
      workspaceId: workspace_id ?? null,
      scopes: Object.freeze(effectiveScopes(scope.split(/\s+/).filter(Boolean), org_id ?? null)),
      expiresAt: payload.exp === undefined ? null : payload.exp * 1000,
    });
  }
}

export function bearerToken(header: string | null): string {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match) throw unauthenticated('missing bearer token');
  return match[1]!;
}

/** The longest delay setTimeout keeps: a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fn` once `expiresAt` (ms since the epoch) has passed, however far off it is (a
 * token may live longer than the 24.8 days a single timer can wait), unless cancelled
 * first. Never synchronously, and without keeping the process alive.
 */
export function whenExpired(expiresAt: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    timer = setTimeout(() => (Date.now() >= expiresAt ? fn() : arm()), Math.min(Math.max(0, expiresAt - Date.now()), MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
