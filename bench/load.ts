import autocannon from 'autocannon';

/** One HTTP request of a load sequence (autocannon's `requests` entries). */
export interface LoadStep {
  /** Fixed JSON body, or built per iteration from the sequence's context. */
  body: string | ((context: Record<string, unknown>) => string);
  /** Called with each response body; may store values in the context for later steps. */
  onBody?: (body: string, context: Record<string, unknown>) => void;
}

export interface LoadPlan {
  steps: LoadStep[];
  /** Returns an error description for a response that is not a correct answer. */
  check: (status: number, body: string) => string | null;
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  /** Responses received during the measured window. */
  requests: number;
  seconds: number;
  rps: number;
  /** Milliseconds, from every response (sub-millisecond resolution). */
  latency: LatencySummary;
  /** Responses that were not correct answers (non-2xx, GraphQL errors, wrong shape). */
  failed: number;
  firstFailure: string | null;
  socketErrors: number;
  timeouts: number;
}

export function summarize(values: Float64Array): LatencySummary {
  if (values.length === 0) return { mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { mean: sum / sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

export interface LoadOptions {
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  plan: LoadPlan;
}

/** Drives `plan` with autocannon for a fixed time; every loop is bounded by `seconds`. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { plan } = options;
  let failed = 0;
  let firstFailure: string | null = null;
  let latencies = new Float64Array(1 << 16);
  let count = 0;

  const requests = plan.steps.map((step) => {
    const fixed = typeof step.body === 'string' ? step.body : undefined;
    const build = typeof step.body === 'function' ? step.body : undefined;
    return {
      method: 'POST' as const,
      path: new URL(options.url).pathname,
      headers: { ...options.headers, 'content-type': 'application/json' },
      ...(fixed !== undefined ? { body: fixed } : {}),
      ...(build
        ? {
            setupRequest: (request: autocannon.Request, context: object) => ({
              ...request,
              body: build(context as Record<string, unknown>),
            }),
          }
        : {}),
      onResponse: (status: number, body: string, context: object) => {
        const problem = plan.check(status, body);
        if (problem) {
          failed++;
          firstFailure ??= problem;
        }
        step.onBody?.(body, context as Record<string, unknown>);
      },
    };
  });

  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        timeout: 30,
        requests,
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const measured = latencies.subarray(0, count);
        resolve({
          requests: count,
          seconds,
          rps: count / seconds,
          latency: summarize(measured),
          failed,
          firstFailure,
          socketErrors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTime;
    });
  });
}
