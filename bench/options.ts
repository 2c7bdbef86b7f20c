import path from 'node:path';

/** Benchmark settings, all from the environment with defaults that fit in ~5 minutes. */
export interface BenchOptions {
  /** Measured seconds per scenario and target. */
  seconds: number;
  /** Unmeasured warm-up seconds before each measured run. */
  warmupSeconds: number;
  /** Concurrent HTTP connections (autocannon). */
  connections: number;
  /** Server (no database) to connect to as the bench's administrative user. */
  pgUrl: string;
  /** Name of the throw-away benchmark database (dropped and recreated each run). */
  database: string;
  seed: number;
  /** Only these scenario ids (e.g. Q0,Q1); empty = all. */
  only: Set<string>;
  /** Targets to run: ours, postgraphile, handwritten. */
  targets: Set<string>;
  /** Keep the benchmark database after the run. */
  keepDatabase: boolean;
  /** Hard limit for the whole run; everything is stopped past it. */
  maxSeconds: number;
  /** Whether the service runs with its metrics (METRICS_ENABLED), to measure what they cost. */
  serviceMetrics: boolean;
  /** Under which every target writes a V8 CPU profile of its run (`--cpu-prof`, one folder per target); empty = none. */
  cpuProfileDir: string;
  /** E1's subscriber counts, one measurement each. */
  e1Subscribers: number[];
}

function number(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number between ${min} and ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

function list(name: string): Set<string> {
  const raw = process.env[name] ?? '';
  return new Set(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

function counts(name: string, fallback: number[], min: number, max: number): number[] {
  const raw = [...list(name)];
  if (raw.length === 0) return fallback;
  return raw.map((item) => {
    const value = Number(item);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name} must list whole numbers between ${min} and ${max} (got ${JSON.stringify(item)})`);
    }
    return value;
  });
}

function onOff(name: string, fallback: boolean): boolean {
  const raw = (process.env[name] ?? '').trim();
  if (raw === '') return fallback;
  if (raw !== 'on' && raw !== 'off') throw new Error(`${name} must be on or off (got ${JSON.stringify(raw)})`);
  return raw === 'on';
}

export const ALL_TARGETS = ['ours', 'postgraphile', 'handwritten'] as const;
export type TargetName = (typeof ALL_TARGETS)[number];

export function loadOptions(): BenchOptions {
  const targets = list('BENCH_TARGETS');
  for (const t of targets) {
    if (!(ALL_TARGETS as readonly string[]).includes(t)) {
      throw new Error(`BENCH_TARGETS: unknown target ${t} (known: ${ALL_TARGETS.join(', ')})`);
    }
  }
  const database = process.env.BENCH_DB ?? 'mcp_bench';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error('BENCH_DB must be a plain lower-case identifier');
  const pgUrl = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const host = new URL(pgUrl).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) {
    throw new Error('BENCH_PG_URL must point at a loopback address');
  }
  return {
    seconds: number('BENCH_SECONDS', 10, 1, 600),
    warmupSeconds: number('BENCH_WARMUP_SECONDS', 2, 0, 60),
    connections: number('BENCH_CONNECTIONS', 10, 1, 256),
    pgUrl,
    database,
    seed: number('BENCH_SEED', 20261124, 0, 2 ** 32 - 1),
    only: list('BENCH_ONLY'),
    targets: targets.size > 0 ? targets : new Set(ALL_TARGETS),
    keepDatabase: ['1', 'true'].includes(process.env.BENCH_KEEP_DB ?? ''),
    maxSeconds: number('BENCH_MAX_SECONDS', 900, 30, 3600),
    serviceMetrics: onOff('BENCH_METRICS', true),
    cpuProfileDir: process.env.BENCH_CPU_PROF_DIR ? path.resolve(process.env.BENCH_CPU_PROF_DIR) : '',
    e1Subscribers: counts('BENCH_E1_SUBSCRIBERS', [20, 200], 1, 20_000),
  };
}

/** The same server URL with another database name. */
export function databaseUrl(pgUrl: string, database: string, port?: number): string {
  const url = new URL(pgUrl);
  url.pathname = `/${database}`;
  if (port !== undefined) {
    url.hostname = '127.0.0.1';
    url.port = String(port);
  }
  return url.toString();
}
