import { SignJWT } from 'jose';

export interface TokenClaims {
  subject: string;
  organizationId?: string;
  workspaceId?: string;
  scopes: string[];
  actorType?: 'user' | 'service';
  expiresIn?: string;
  issuer?: string;
  audience?: string;
}

/** Mints an HS256 token (development, CLI and tests). */
export async function mintToken(secret: string, claims: TokenClaims): Promise<string> {
  const jwt = new SignJWT({
    scope: claims.scopes.join(' '),
    actor_type: claims.actorType ?? 'user',
    ...(claims.organizationId ? { org_id: claims.organizationId } : {}),
    ...(claims.workspaceId ? { workspace_id: claims.workspaceId } : {}),
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.subject)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '12h');
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
