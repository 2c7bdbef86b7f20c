import type { Tx } from '../../db/scope.ts';
import type { Context } from '../../graphql/context.ts';
import { errorCodeOf } from '../../graphql/errors.ts';
import { ConnectionLost } from '../../db/failures.ts';

export type ResourceType =
  | 'agent_catalog'
  | 'agent_custom_provider'
  | 'agent_model_access'
  | 'agent_default_model'
  | 'agent_credentials'
  | 'agent_model_alias'
  | 'workspace'
  | 'organization'
  | 'webhook_endpoint';

export type AuditAction = 'create' | 'update' | 'delete' | 'refresh' | 'validate' | 'read' | 'rotate' | 'replay';

export interface AuditSpec {
  resourceType: ResourceType;
  action: AuditAction;
  /** Platform operations write through the platform path. */
  platform?: boolean;
}

/**
 * One audited operation. The operation's change goes through `commit`, which writes
 * the SUCCESS event in the same transaction; `fail` writes the FAILURE event. Only
 * identifiers are recorded: never argument values or secrets.
 */
export class AuditedOperation {
  resourceId: string | null = null;
  /** The spec's action, unless the operation learns it did another (an upsert that created). */
  action: AuditAction;
  workspaceId: string | null;
  organizationId: string | null;
  #recorded = false;

  constructor(
    private readonly ctx: Context,
    readonly spec: AuditSpec,
  ) {
    this.action = spec.action;
    this.workspaceId = ctx.principal.workspaceId;
    this.organizationId = ctx.principal.organizationId;
  }

  get recorded(): boolean {
    return this.#recorded;
  }

  /** Runs the change in one transaction that also records its SUCCESS. */
  commit<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const run = async (tx: Tx) => {
      const result = await fn(tx);
      await this.#insert(tx, 'SUCCESS', null);
      return result;
    };
    return (this.spec.platform ? this.ctx.db.platformTransaction(run) : this.ctx.db.write(run)).then(
      (result) => {
        this.#recorded = true;
        return result;
      },
    );
  }

  /**
   * Records the FAILURE; a failure to record is logged, never hides the original error.
   * Not after a commit whose outcome is unknown: its SUCCESS may have been recorded.
   */
  async fail(error: unknown): Promise<void> {
    if (this.#recorded) return;
    this.#recorded = true;
    if (error instanceof ConnectionLost && error.outcome === 'unknown') {
      this.ctx.logger.warn({ requestId: this.ctx.requestId, ...this.spec }, 'outcome of the operation unknown: no audit FAILURE recorded');
      return;
    }
    const code = errorCodeOf(error);
    try {
      const write = (tx: Tx) => this.#insert(tx, 'FAILURE', code);
      if (this.spec.platform || !this.organizationId) {
        if (!this.ctx.principal.organizationId) this.organizationId = null;
        await this.ctx.db.platformTransaction(write);
      } else {
        await this.ctx.db.write(write);
      }
    } catch (auditError) {
      this.ctx.logger.error({ err: auditError, requestId: this.ctx.requestId }, 'could not record audit failure');
    }
  }

  async #insert(tx: Tx, status: 'SUCCESS' | 'FAILURE', errorCode: string | null) {
    // createMany: no RETURNING, so the platform role needs no read access to the trail.
    await tx.auditEvent.createMany({
      data: {
        organizationId: this.organizationId,
        workspaceId: this.workspaceId,
        resourceType: this.spec.resourceType,
        action: this.action,
        resourceId: this.resourceId,
        status,
        errorCode,
        actorSubject: this.ctx.principal.subject,
        actorType: this.ctx.principal.actorType,
        requestId: this.ctx.requestId,
      },
    });
  }
}
