import type { Database } from '../../db/database.ts';
import { scopedTransaction } from '../../db/scope.ts';
import type { Principal } from '../../security/auth.ts';
import { databaseFailure, forbidden } from '../../graphql/errors.ts';
import { retryOnceIfLost } from '../../db/failures.ts';

const TTL_MS = 30_000;
const MAX_ENTRIES = 10_000;

/**
 * Confirms that a token's organization (and workspace) exist. Positive answers are
 * cached briefly, so most requests pay no query; unknown ones are always re-checked.
 */
export class TenantDirectory {
  readonly #known = new Map<string, number>();

  constructor(private readonly database: Database) {}

  async assertActive(principal: Principal): Promise<void> {
    const organizationId = principal.organizationId;
    if (!organizationId) return;
    const key = `${organizationId}/${principal.workspaceId ?? ''}`;
    const expires = this.#known.get(key);
    if (expires !== undefined && expires > Date.now()) return;

    // A read: run again once on a fresh connection if its connection was lost.
    const found = await retryOnceIfLost(() => scopedTransaction(
      this.database.prisma,
      { kind: 'tenant', organizationId, workspaceId: principal.workspaceId },
      async (tx) => {
        const organization = await tx.organization.findUnique({ where: { id: organizationId }, select: { id: true } });
        if (!organization) return 'organization';
        if (!principal.workspaceId) return null;
        const workspace = await tx.workspace.findFirst({
          where: { id: principal.workspaceId, organizationId },
          select: { id: true },
        });
        return workspace ? null : 'workspace';
      },
    )).catch((error: unknown) => {
      throw databaseFailure(error) ?? error;
    });
    if (found === 'organization') throw forbidden('the token names an organization that does not exist');
    if (found === 'workspace') throw forbidden('the token names a workspace that does not exist');

    if (this.#known.size >= MAX_ENTRIES) this.#known.delete(this.#known.keys().next().value!);
    this.#known.set(key, Date.now() + TTL_MS);
  }

  /** Forgets cached answers about a workspace that was just deleted. */
  forgetWorkspace(organizationId: string, workspaceId: string): void {
    this.#known.delete(`${organizationId}/${workspaceId}`);
  }
}
