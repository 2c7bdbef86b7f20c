/**
 * Scenario E1: subscribers of one organization over SSE while a writer commits changes
 * there. Measures how long after its change each event reaches every subscriber
 * (receive time − the event's occurredAt, one clock) and the SQL statements per
 * committed change, all statements of the window included (the writer's own too), so
 * that the figures for different subscriber counts compare directly. The subscriber
 * clients run in processes of their own (bench/subscriber-worker.ts), up to 2 500 each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { summarize } from './load.ts';
import type { CountingProxy } from './pg-counting-proxy.ts';

export interface SubscriptionResult {
  subscribers: number;
  changes: number;
  deliveries: number;
  missing: number;
  /** Events a subscriber received a second time. */
  repeated: number;
  deliveryP50Ms: number;
  deliveryP99Ms: number;
  deliveryMaxMs: number;
  statementsPerChange: number;
  /** The service's CPU from the first change to the last delivery (subscribing excluded), per change. */
  cpuMsPerChange: number;
}

/** Subscribers per client process (each process holds that many sockets). */
const SUBSCRIBERS_PER_WORKER = 2_500;
const WORKER = fileURLToPath(new URL('./subscriber-worker.ts', import.meta.url));
const QUERY = 'subscription { changes { cursor occurredAt subjectType subject { id } } }';

/**
 * Runs `command` with the soft limit of open files raised to the hard one: 10 000
 * subscribers are 10 000 sockets in the service and as many among the clients.
 */
export function withFileLimit(command: string, args: string[]): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', command, ...args] };
}

interface Worker {
  child: ChildProcess;
  request<T>(message: object, reply: string): Promise<T>;
}

function startWorker(): Worker {
  const { command, args } = withFileLimit(process.execPath, ['--import', 'tsx', WORKER]);
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    child,
    request: <T>(message: object, reply: string) =>
      new Promise<T>((resolve, reject) => {
        const onMessage = (answer: { type: string; message?: string }) => {
          if (answer.type !== reply && answer.type !== 'failed') return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (answer.type === 'failed') reject(new Error(answer.message));
          else resolve(answer as T);
        };
        const onExit = (code: number | null) => reject(new Error(`subscriber process exited (code ${code})`));
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send(message);
      }),
  };
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  }).catch((error: Error) => {
    throw new Error(`write failed: ${error.message} (${(error.cause as Error | undefined)?.message ?? 'no cause'})`);
  });
  const body = (await response.json()) as { data?: any; errors?: unknown };
  if (!body.data || body.errors) throw new Error(`write failed: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

export async function measureSubscriptions(options: {
  url: string;
  writerToken: string;
  /** A token per subscriber (distinct subjects: the per-actor limit applies per subject). */
  subscriberToken: (index: number) => Promise<string>;
  proxy: CountingProxy;
  subscribers: number;
  /** Changes committed during the window (each createWorkspace or deleteWorkspace is one). */
  changes: number;
  intervalMs: number;
  /** CPU time the service has used so far, ms. */
  serviceCpuMs: () => number;
}): Promise<SubscriptionResult> {
  const workers = Array.from({ length: Math.ceil(options.subscribers / SUBSCRIBERS_PER_WORKER) }, startWorker);
  try {
    const tokens: string[] = [];
    for (let i = 0; i < options.subscribers; i++) tokens.push(await options.subscriberToken(i));
    await Promise.all(
      workers.map((worker, w) =>
        worker.request(
          { type: 'open', url: options.url, query: QUERY, tokens: tokens.filter((_, i) => i % workers.length === w), concurrency: 20 },
          'opened',
        ),
      ),
    );
    await options.proxy.settle();
    const before = options.proxy.snapshot();
    const cpuBefore = options.serviceCpuMs();
    let workspace: string | null = null;
    for (let i = 0; i < options.changes; i++) {
      if (workspace === null) {
        workspace = (await post(options.url, options.writerToken, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `e1-${i}` }))
          .createWorkspace.workspace.id;
      } else {
        await post(options.url, options.writerToken, 'mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: workspace });
        workspace = null;
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
    // Every subscriber has the last change, or two seconds have passed.
    const collected = await Promise.all(
      workers.map((worker) =>
        worker.request<{ lags: number[]; missing: number; repeated: number }>({ type: 'collect', expected: options.changes, waitMs: 2_000 }, 'collected'),
      ),
    );
    const cpuMs = options.serviceCpuMs() - cpuBefore;
    await options.proxy.settle();
    const statements = options.proxy.snapshot().statements - before.statements;
    const lags = new Float64Array(collected.flatMap((c) => c.lags));
    const latency = summarize(lags);
    return {
      subscribers: options.subscribers,
      changes: options.changes,
      deliveries: lags.length,
      missing: collected.reduce((sum, c) => sum + c.missing, 0),
      repeated: collected.reduce((sum, c) => sum + c.repeated, 0),
      deliveryP50Ms: latency.p50,
      deliveryP99Ms: latency.p99,
      deliveryMaxMs: latency.max,
      statementsPerChange: statements / options.changes,
      cpuMsPerChange: cpuMs / options.changes,
    };
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill();
  }
}
