import type { ServerResponse } from 'node:http';
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  print,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { RequestDb, type Context } from '../../graphql/context.ts';
import { ChangeStream, PAGE_SIZE, type Delivery } from './stream.ts';

/** Results a group keeps, by event: members a page or two apart share them. */
const RESULTS_PER_GROUP = 2 * PAGE_SIZE;
/** Pages of SSE messages a group keeps: members at the same position write the same string. */
const PAGES_PER_GROUP = 16;
/** Between SSE messages written together (GraphQL over SSE: one `next` event per result). */
const SSE_SEPARATOR = '\n\nevent: next\ndata: ';

/** What a document's text says about grouping its subscribers. */
interface DocumentShape {
  /** The printed document: equal documents group together whatever object holds them. */
  text: string;
  /** Variables the selection reads; those only in the root field's arguments (cursor, filter) choose events, not answers. */
  selectionVariables: string[];
  /** It reads `viewer`, whose answer is the token's own. */
  readsViewer: boolean;
}

interface SharedResult {
  /** The event's position, as a key. */
  key: string;
  result: ExecutionResult;
  /** The result serialized once for every member; null when it carries errors (masked per subscriber). */
  json: string | null;
}

type EventDelivery = Extract<Delivery, { kind: 'event' }>;

/** Consecutive results as GraphQL over SSE sends them: the data of each, and the whole messages as bytes. */
class SsePage {
  #bytes?: Buffer;
  constructor(readonly data: string) {}

  /** `event: next` messages, encoded once for every member that writes them. */
  get bytes(): Buffer {
    return (this.#bytes ??= Buffer.from(`event: next\ndata: ${this.data}\n\n`));
  }
}

/**
 * The subscribers of one instance that would receive the same bytes: the same
 * document and selection variables, and the same visibility (organization, workspace
 * binding, scopes; the token's subject and actor type when the document reads
 * `viewer`). Each event's selection is executed once for the group, with a context of
 * that visibility, and serialized once.
 */
class SubscriptionGroup {
  members = 0;
  readonly #results = new LRUCache<string, Promise<SharedResult>>({ max: RESULTS_PER_GROUP });
  readonly #pages = new LRUCache<string, SsePage>({ max: PAGES_PER_GROUP });
  readonly #args: ExecutionArgs;
  readonly #base: Omit<Context, 'loaders'>;
  /** Loaders of the executions started in one tick: they batch together, and never carry an earlier state. */
  #tickContext?: Context;

  constructor(args: ExecutionArgs, member: Context) {
    const principal = { ...member.principal, expiresAt: null };
    this.#base = {
      requestId: 'change-feed',
      principal,
      logger: member.logger,
      services: member.services,
      db: new RequestDb(member.services.database.prisma, principal),
    };
    this.#args = { schema: args.schema, document: args.document, operationName: args.operationName, variableValues: args.variableValues };
  }

  resultOf(delivery: EventDelivery): Promise<SharedResult> {
    const key = `${delivery.event.position.xid}:${delivery.event.position.id}`;
    let shared = this.#results.get(key);
    if (!shared) {
      shared = Promise.resolve(execute({ ...this.#args, rootValue: delivery, contextValue: this.#context() })).then((result) => ({
        key,
        result,
        json: result.errors?.length ? null : JSON.stringify(result),
      }));
      shared.catch(() => this.#results.delete(key));
      this.#results.set(key, shared);
    }
    return shared;
  }

  /** The SSE messages of consecutive error-free results, built once for the members that write the same page. */
  pageOf(results: readonly SharedResult[]): SsePage {
    const key = results.map((shared) => shared.key).join(',');
    let page = this.#pages.get(key);
    if (page === undefined) {
      page = new SsePage(results.map((shared) => shared.json).join(SSE_SEPARATOR));
      this.#pages.set(key, page);
    }
    return page;
  }

  #context(): Context {
    if (!this.#tickContext) {
      this.#tickContext = { ...this.#base, loaders: new Map() };
      setImmediate(() => (this.#tickContext = undefined));
    }
    return this.#tickContext;
  }
}

/** The instance's groups of subscribers, by what they would receive. */
export class SubscriptionGroups {
  readonly #groups = new Map<string, SubscriptionGroup>();

  /** How many groups are open: as many as distinct (document, variables, visibility) among the subscriptions. */
  get size(): number {
    return this.#groups.size;
  }

  join(key: string, args: ExecutionArgs, ctx: Context): { group: SubscriptionGroup; leave(): void } {
    let group = this.#groups.get(key);
    if (!group) this.#groups.set(key, (group = new SubscriptionGroup(args, ctx)));
    group.members++;
    let left = false;
    return {
      group,
      leave: () => {
        if (left) return;
        left = true;
        if (--group.members === 0) this.#groups.delete(key);
      },
    };
  }
}

/**
 * Shared execution of `changes` subscriptions (SPEC §20). The subscription's stream is
 * the subscriber's own — its cursor, filter, token expiry, limits and flow control —
 * and so is its pace; what each event becomes is computed once per group. Over SSE a
 * page already read goes out as one write of the members' shared bytes. The root
 * field's arguments are computed by graphql-js from the document and the coerced
 * variables.
 */
export function useSharedSubscriptions(groups: SubscriptionGroups): Plugin<Context> {
  const shapes = new WeakMap<DocumentNode, Map<string, DocumentShape | null>>();

  const shapeOf = (document: DocumentNode, operationName: string | null | undefined): DocumentShape | null => {
    let byOperation = shapes.get(document);
    if (!byOperation) shapes.set(document, (byOperation = new Map()));
    const name = operationName ?? '';
    if (!byOperation.has(name)) byOperation.set(name, inspect(document, operationName));
    return byOperation.get(name)!;
  };

  return {
    onSubscribe({ args, setSubscribeFn }) {
      const shape = shapeOf(args.document, args.operationName);
      if (!shape) return;
      setSubscribeFn(async (subscribeArgs) => {
        const source = await createSourceEventStream(subscribeArgs);
        if (!(source instanceof ChangeStream)) return source as ExecutionResult;
        const ctx = subscribeArgs.contextValue as Context & { request?: Request; res?: ServerResponse };
        const { principal } = ctx;
        const variables = subscribeArgs.variableValues ?? {};
        const key = JSON.stringify([
          shape.text,
          subscribeArgs.operationName ?? '',
          principal.organizationId,
          principal.workspaceId,
          [...principal.scopes].sort(),
          shape.readsViewer ? `${principal.actorType}:${principal.subject}` : '',
          // Absent and null differ (an absent variable takes its default).
          shape.selectionVariables.filter((name) => name in variables).map((name) => [name, variables[name]]),
        ]);
        return memberStream(source, groups.join(key, subscribeArgs, ctx), subscribeArgs, writesSse(ctx.request) ? { response: ctx.res } : null);
      });
    },
  };
}

/** Whether the response is GraphQL over SSE (yoga's SSE result processor), where results written together stay distinct events. */
function writesSse(request: Request | undefined): boolean {
  const accept = request?.headers.get('accept') ?? '';
  return accept.includes('text/event-stream') && !accept.includes('multipart/mixed');
}

/**
 * One subscriber's results, pulled at its pace: each from its group's shared results.
 * Over SSE with the node response at hand, pages of error-free results are written to
 * it directly, the group's bytes as they are, the next page read only once the
 * response has taken the last one; anything else goes the usual way, through yoga.
 */
function memberStream(
  stream: ChangeStream,
  membership: { group: SubscriptionGroup; leave(): void },
  args: ExecutionArgs,
  sse: { response: ServerResponse | undefined } | null,
): AsyncIterableIterator<ExecutionResult> {
  let queue: SharedResult[] = [];
  const end = (): IteratorResult<ExecutionResult> => {
    membership.leave();
    return { done: true, value: undefined };
  };
  const writable = (response: ServerResponse | undefined): response is ServerResponse =>
    response !== undefined && response.headersSent && !response.writableEnded && !response.destroyed;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      for (;;) {
        if (queue.length === 0) {
          let first: IteratorResult<Delivery>;
          try {
            first = await stream.next();
          } catch (error) {
            membership.leave();
            throw error;
          }
          if (first.done) return end();
          // The end of this subscriber's token is its own.
          if (first.value.kind === 'expired') return { done: false, value: await execute({ ...args, rootValue: first.value }) };
          const deliveries = sse ? [first.value, ...stream.takeReady()] : [first.value];
          queue = await Promise.all(deliveries.map((delivery) => membership.group.resultOf(delivery as EventDelivery)));
        }
        const head = queue[0]!;
        // A copy: the hooks that follow (error codes, masking) replace results, never share them.
        if (!sse || head.json === null) return { done: false, value: { ...queue.shift()!.result } };
        let count = 1;
        while (count < queue.length && queue[count]!.json !== null) count++;
        const page = membership.group.pageOf(queue.splice(0, count));
        const response = sse.response;
        if (writable(response)) {
          if (!response.write(page.bytes)) await drained(response);
          continue;
        }
        const value: ExecutionResult = { ...head.result };
        // yoga serializes a result with its `stringify`: the shared text, for this result only.
        Object.defineProperty(value, 'stringify', { value: (sent: unknown) => (sent === value ? page.data : JSON.stringify(sent)) });
        return { done: false, value };
      }
    },
    async return() {
      queue = [];
      await stream.return();
      return end();
    },
  };
}

/** Resolves once the response can take more, or is gone. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/** The shape of a subscription operation whose root field is `changes`; null for any other. */
function inspect(document: DocumentNode, operationName: string | null | undefined): DocumentShape | null {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription') return null;
  const roots = operation.selectionSet.selections;
  const root = roots.length === 1 && roots[0]!.kind === Kind.FIELD ? (roots[0] as FieldNode) : null;
  if (root?.name.value !== 'changes') return null;
  let readsViewer = false;
  const inSelection = new Set<string>();
  const outsideRootArguments = { ...operation, selectionSet: { ...operation.selectionSet, selections: [{ ...root, arguments: [] }] } };
  for (const definition of [outsideRootArguments, ...document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)]) {
    visit(definition, {
      VariableDefinition: () => false,
      Variable: (node) => void inSelection.add(node.name.value),
      Field: (node) => void (node.name.value === 'viewer' && (readsViewer = true)),
    });
  }
  return { text: print(document), selectionVariables: [...inSelection].sort(), readsViewer };
}
