/**
 * Scenario M2: `enableModels` of 1000 entries into an empty workspace, then
 * `replaceModelAccess` back to empty, one call after another. Measures each call's
 * latency and the SQL statements of its window: the proxy is quiet before each call
 * and counted until it is quiet again, so the figure is everything the call caused
 * (with no subscription open, the service does not read the events it made).
 */
import { summarize, type LatencySummary } from './load.ts';
import type { CountingProxy } from './pg-counting-proxy.ts';
import { globalId } from './scenarios.ts';

export interface BulkCallResult {
  calls: number;
  latency: LatencySummary;
  statementsPerCall: number;
  transactionsPerCall: number;
}

export interface BulkGrantsResult {
  ids: number;
  enable: BulkCallResult;
  replace: BulkCallResult;
}

const ENABLE = 'mutation M2Enable($ids: [ID!]!, $ws: ID) { enableModels(input: { catalogEntryIds: $ids, workspaceId: $ws }) { createdCount } }';
const REPLACE = 'mutation M2Replace($ws: ID) { replaceModelAccess(input: { catalogEntryIds: [], workspaceId: $ws }) { createdCount deletedCount } }';

async function post(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (!body.data || body.errors) throw new Error(`M2 call failed: ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
  return body.data;
}

export async function measureBulkGrants(options: {
  url: string;
  token: string;
  proxy: CountingProxy;
  /** Visible catalog entries of the tenant; the first `ids` are granted. */
  catalogIds: string[];
  ids: number;
  /** Measured time; at least three pairs run. */
  seconds: number;
}): Promise<BulkGrantsResult> {
  const { url, token, proxy } = options;
  if (options.catalogIds.length < options.ids) throw new Error(`M2 needs ${options.ids} visible entries, the tenant sees ${options.catalogIds.length}`);
  const ids = options.catalogIds.slice(0, options.ids).map((id) => globalId('CatalogEntry', id));
  const ws = (await post(url, token, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: 'bench-m2' }))
    .createWorkspace.workspace.id as string;
  const calls = { enable: { latencies: [] as number[], statements: 0, transactions: 0 }, replace: { latencies: [] as number[], statements: 0, transactions: 0 } };
  const measure = async (kind: 'enable' | 'replace', check: (data: any) => boolean, run: () => Promise<any>, counted: boolean) => {
    await proxy.settle();
    const before = proxy.snapshot();
    const started = performance.now();
    const data = await run();
    const elapsed = performance.now() - started;
    if (!check(data)) throw new Error(`M2 ${kind}: unexpected answer ${JSON.stringify(data)}`);
    await proxy.settle();
    if (!counted) return;
    const after = proxy.snapshot();
    calls[kind].latencies.push(elapsed);
    calls[kind].statements += after.statements - before.statements;
    calls[kind].transactions += after.transactions - before.transactions;
  };
  const pair = async (counted: boolean) => {
    await measure('enable', (d) => d.enableModels.createdCount === options.ids, () => post(url, token, ENABLE, { ids, ws }), counted);
    await measure('replace', (d) => d.replaceModelAccess.deletedCount === options.ids, () => post(url, token, REPLACE, { ws }), counted);
  };
  try {
    await pair(false);
    const deadline = Date.now() + options.seconds * 1000;
    while (calls.enable.latencies.length < 3 || Date.now() < deadline) await pair(true);
  } finally {
    await post(url, token, 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: ws }).catch(() => {});
  }
  const result = (kind: 'enable' | 'replace'): BulkCallResult => {
    const { latencies, statements, transactions } = calls[kind];
    return {
      calls: latencies.length,
      latency: summarize(Float64Array.from(latencies)),
      statementsPerCall: statements / latencies.length,
      transactionsPerCall: transactions / latencies.length,
    };
  };
  return { ids: options.ids, enable: result('enable'), replace: result('replace') };
}
