import { GraphQLError } from 'graphql';
import DataLoader from 'dataloader';
import type { Logger } from '../observability/logger.ts';
import type { Principal } from '../security/auth.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { heldTransaction, scopedClient, scopedTransaction, type DbScope, type HeldTransaction, type Tx } from '../db/scope.ts';
import { ConnectionLost, retryOnceIfLost } from '../db/failures.ts';
import { forbidden } from './errors.ts';
import type { Services } from '../services.ts';

/**
 * Database access for one request. Every query runs under the caller's tenant scope;
 * the platform path is separate and only reachable from platform-admin operations.
 * Reads (`transaction`) and writes (`write`) differ in what a lost connection does:
 * a read is run again on a fresh connection, a write fails with ConnectionLost.
 */
export class RequestDb {
  #client?: PrismaClient;
  #sharing = false;
  #shared?: HeldTransaction;
  #connectionLost = false;
  #snapshots: string[] = [];
  readonly #noteSnapshot = (snapshot: string) => void this.#snapshots.push(snapshot);

  constructor(
    private readonly prisma: PrismaClient,
    private readonly principal: Principal,
  ) {}

  /** The caller's organization; FORBIDDEN for tokens that have none. */
  get organizationId(): string {
    const id = this.principal.organizationId;
    if (!id) throw forbidden('this operation needs a token bound to an organization');
    return id;
  }

  get scope(): DbScope {
    return {
      kind: 'tenant',
      organizationId: this.organizationId,
      workspaceId: this.principal.workspaceId,
      actorSubject: this.principal.subject,
    };
  }

  /**
   * One tenant transaction that only reads (or does nothing a second run could
   * change): lost before its COMMIT was sent, it runs once more on a fresh connection.
   * While reads are shared (a query operation), every call runs in the request's one
   * transaction instead, opened on first use: one BEGIN, one scope statement and one
   * COMMIT per request rather than per database call.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (!this.#sharing) return retryOnceIfLost(() => scopedTransaction(this.prisma, this.scope, fn, this.#noteSnapshot));
    return this.#inShared(fn);
  }

  /** One tenant transaction that writes; a lost connection fails it with ConnectionLost. Shared like `transaction`. */
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (!this.#sharing) return scopedTransaction(this.prisma, this.scope, fn, this.#noteSnapshot);
    return this.#inShared(fn);
  }

  /** True once a transaction of this request lost its connection while reads were shared. */
  get connectionLost(): boolean {
    return this.#connectionLost;
  }

  /** A RequestDb for the same caller, with nothing shared yet: for running an operation again. */
  renewed(): RequestDb {
    return new RequestDb(this.prisma, this.principal);
  }

  #inShared<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const shared = (this.#shared ??= heldTransaction(this.prisma, this.scope, this.#noteSnapshot));
    return shared.tx.then(fn).catch((error: unknown) => {
      // A refusal (NOT_FOUND, FORBIDDEN, …) leaves the transaction usable. A failed
      // statement aborts it: it ends now, freeing its connection, and later reads get
      // a fresh one (reads already queued on it fail with it, as they would anyway).
      if (!(error instanceof GraphQLError) && this.#shared === shared) {
        this.#shared = undefined;
        shared.end().catch(() => {});
      }
      const lost = error instanceof ConnectionLost ? error : shared.lost && new ConnectionLost(shared.lost, error);
      if (!lost) throw error;
      this.#connectionLost = true;
      throw lost;
    });
  }

  /** For query operations: from now on `transaction` shares one transaction. */
  shareReads(): void {
    this.#sharing = true;
  }

  /**
   * Commits the shared transaction; later calls (if any) get their own again. Rejects
   * if the commit failed: what the operation wrote there (the audit record of a
   * credentials read) is then lost, and its answer must not go out either.
   */
  async endSharedReads(): Promise<void> {
    this.#sharing = false;
    const shared = this.#shared;
    this.#shared = undefined;
    try {
      await shared?.end();
    } catch (error) {
      if (error instanceof ConnectionLost) this.#connectionLost = true;
      throw error;
    }
  }

  /** One platform transaction (platform catalog, organizations); it writes, so it is never run twice. */
  platformTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return scopedTransaction(this.prisma, { kind: 'platform', actorSubject: this.principal.subject }, fn, this.#noteSnapshot);
  }

  /**
   * The snapshot everything this request read was read in, when it read in exactly one
   * transaction (a query operation's shared one); undefined otherwise.
   */
  get readSnapshot(): string | undefined {
    return this.#snapshots.length === 1 ? this.#snapshots[0] : undefined;
  }

  /** A tenant-scoped client for queries a library issues itself; shares reads like `transaction`. */
  get client(): PrismaClient {
    this.#client ??= scopedClient(this.prisma, (operation) => this.transaction(operation));
    return this.#client;
  }
}

export interface Context {
  requestId: string;
  principal: Principal;
  logger: Logger;
  services: Services;
  db: RequestDb;
  loaders: Map<string, DataLoader<unknown, unknown>>;
}

/**
 * A DataLoader cached for the rest of the request under `name`, so that the same
 * batch function shared by many fields of one response runs once per tick.
 */
export function loader<K, V>(
  ctx: Context,
  name: string,
  batch: (keys: readonly K[]) => Promise<ReadonlyArray<V | Error>>,
): DataLoader<K, V> {
  let existing = ctx.loaders.get(name) as DataLoader<K, V> | undefined;
  if (!existing) {
    existing = new DataLoader<K, V>(batch, { maxBatchSize: 500 });
    ctx.loaders.set(name, existing as DataLoader<unknown, unknown>);
  }
  return existing;
}
