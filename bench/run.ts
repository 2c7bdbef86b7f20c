/**
 * `npm run bench`: builds the benchmark database, starts the service and the two
 * baselines one after another (each as its own child process, behind its own
 * statement-counting proxy), drives each scenario with autocannon on 127.0.0.1 and
 * writes a markdown table and JSON to bench/results/.
 *
 * Settings (environment): BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2),
 * BENCH_CONNECTIONS (10), BENCH_ONLY (e.g. Q0,Q1), BENCH_TARGETS
 * (ours,postgraphile,handwritten), BENCH_PG_URL, BENCH_DB (mcp_bench), BENCH_SEED,
 * BENCH_KEEP_DB, BENCH_MAX_SECONDS (900), BENCH_E1_SUBSCRIBERS (20,200), BENCH_METRICS (on, or off to run the service
 * with METRICS_ENABLED=false), BENCH_CPU_PROF_DIR (every target writes a CPU profile
 * to <dir>/<target>/; `npx tsx bench/cpu-profile.ts <file>` summarizes one).
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { mintToken } from '../src/security/tokens.ts';
import { countGrants, dropDatabase, recreateDatabase, seed, SHAPE, vacuumAnalyze, type Dataset } from './dataset.ts';
import { runLoad } from './load.ts';
import { ALL_TARGETS, databaseUrl, loadOptions, type BenchOptions, type TargetName } from './options.ts';
import { CountingProxy, diffCounts } from './pg-counting-proxy.ts';
import { freePort, killAllChildren, readCpuMs, readMemory, resetPeakRss, startServer, type ServerProcess } from './processes.ts';
import {
  computeAgreement,
  computeRatios,
  renderMarkdown,
  TARGET_LABELS,
  type BenchReport,
  type Machine,
  type ScenarioResult,
  type TargetInfo,
} from './report.ts';
import { SCENARIOS, type PreparedPlan, type TargetClient } from './scenarios.ts';
import { startCommand } from '../scripts/start-command.ts';
import { measureDataAccess, type DataAccessCost } from './data-access.ts';
import { measureSubscriptions, withFileLimit } from './subscriptions.ts';
import { measureWebhooks } from './webhooks.ts';
import { measureBulkGrants } from './bulk-grants.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const MiB = 1024 * 1024;

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function machineInfo(pgUrl: string): Promise<Machine> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  let postgres = 'unknown';
  let pgStatStatements = 'unknown';
  try {
    const version = await client.query<{ v: string }>('SELECT version() AS v');
    postgres = version.rows[0]!.v.replace(/ on .*/, '');
    const preload = await client.query<{ shared_preload_libraries: string }>('SHOW shared_preload_libraries');
    const available = await client.query('SELECT 1 FROM pg_available_extensions WHERE name = $1', ['pg_stat_statements']);
    const preloaded = preload.rows[0]!.shared_preload_libraries.split(',').map((s) => s.trim()).includes('pg_stat_statements');
    pgStatStatements = preloaded
      ? 'preloaded (not used: the counting proxy is the single method)'
      : available.rowCount
        ? 'installed but not in shared_preload_libraries, so unusable; statements counted by the proxy'
        : 'not installed; statements counted by the proxy';
  } finally {
    await client.end();
  }
  const version = (pkg: string) => {
    try {
      const file = path.join(ROOT, 'node_modules', pkg, 'package.json');
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      return 'missing';
    }
  };
  let gitCommit = 'unknown';
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) gitCommit += '+dirty';
  } catch {
    // not a git checkout
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: os.totalmem() / 1024 ** 3,
    kernel: os.release(),
    node: process.version,
    postgres,
    pgStatStatements,
    gitCommit,
    packages: Object.fromEntries(
      ['graphql-yoga', '@pothos/core', '@prisma/client', '@prisma/adapter-pg', 'pg', 'postgraphile', 'autocannon'].map((p) => [p, version(p)]),
    ),
  };
}

function makeClient(name: TargetName, origin: string, token: string): TargetClient {
  const url = `${origin}/graphql`;
  const headers = { authorization: `Bearer ${token}` };
  return {
    name,
    url,
    headers,
    async post(body) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      return { status: response.status, text: await response.text() };
    },
  };
}

/** Root fields of the running service, as 'Query.x' / 'Mutation.y'. */
async function rootFields(client: TargetClient): Promise<Set<string>> {
  const { status, text } = await client.post(
    JSON.stringify({ query: '{ __schema { queryType { fields { name } } mutationType { fields { name } } } }' }),
  );
  if (status !== 200) throw new Error(`schema introspection failed: HTTP ${status} ${text.slice(0, 200)}`);
  const schema = (JSON.parse(text) as { data: { __schema: Record<string, { fields: { name: string }[] } | null> } }).data.__schema;
  const fields = new Set<string>();
  for (const f of schema.queryType?.fields ?? []) fields.add(`Query.${f.name}`);
  for (const f of schema.mutationType?.fields ?? []) fields.add(`Mutation.${f.name}`);
  return fields;
}

/** Runs the plan's steps once, sequentially, and checks the answers fully. */
async function preflight(client: TargetClient, plan: PreparedPlan): Promise<{ problem: string | null; digest?: string }> {
  const context: Record<string, unknown> = {};
  const answers: unknown[] = [];
  for (const step of plan.preflight ?? plan.steps) {
    const body = typeof step.body === 'function' ? step.body(context) : step.body;
    const { status, text } = await client.post(body);
    if (status !== 200) return { problem: `HTTP ${status}: ${text.slice(0, 300)}` };
    answers.push(JSON.parse(text));
    step.onBody?.(text, context);
  }
  const problem = plan.validate(answers);
  return problem ? { problem } : { problem: null, ...(plan.digest ? { digest: plan.digest(answers) } : {}) };
}

interface TargetSetup {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

function targetSetup(target: TargetName, options: BenchOptions, dbUrl: string, port: number, secret: string): TargetSetup {
  const common = { ...process.env, NODE_ENV: 'production', DATABASE_URL: dbUrl, PORT: String(port), AUTH_JWT_SECRET: secret };
  // Every target's profile, so that where their CPU goes can be compared (file names carry the pid).
  const profiled = (args: string[]) => (options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.cpuProfileDir, target)}`, ...args] : args);
  switch (target) {
    case 'ours': {
      // What `npm start` runs (built by main() first), as one node process whose pid's
      // RSS is the service's.
      const start = startCommand(ROOT);
      return {
        command: process.execPath,
        args: profiled(start.args),
        env: {
          ...common,
          ...start.env,
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          // The load generator is one actor; per-actor rate limiting would measure the limiter.
          RATE_LIMIT_POINTS: '0',
          DB_ENCRYPTION_KEY: crypto.randomBytes(32).toString('base64'),
          DATABASE_POOL_SIZE: '10',
          AUTH_JWKS_URL: '',
          AUTH_ISSUER: '',
          AUTH_AUDIENCE: '',
          DB_ENCRYPTION_KEYS_PREVIOUS: '',
          DATA_DIR: path.join(os.tmpdir(), 'mcp-bench-data'),
          METRICS_ENABLED: String(options.serviceMetrics),
          METRICS_TOKEN: '',
          OTEL_EXPORTER_OTLP_ENDPOINT: '',
          // The default (10 000) unless E1 asks for more.
          ...(Math.max(...options.e1Subscribers) > 10_000 ? { MAX_SUBSCRIPTIONS: String(Math.max(...options.e1Subscribers)) } : {}),
          // W1's receivers listen on plain http on loopback.
          WEBHOOK_ALLOW_HTTP: 'true',
        },
      };
    }
    case 'postgraphile':
      return { command: process.execPath, args: profiled([path.join(ROOT, 'bench', 'postgraphile-server.mjs')]), env: { ...common, GRAPHILE_ENV: 'production' } };
    case 'handwritten':
      return { command: process.execPath, args: profiled([path.join(ROOT, 'bench', 'handwritten-server.mjs')]), env: common };
  }
}

async function runCleanup(dbUrl: string, statements: { text: string; values: unknown[] }[]): Promise<void> {
  if (statements.length === 0) return;
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement.text, statement.values);
  } finally {
    await client.end();
  }
}

async function benchTarget(
  target: TargetName,
  options: BenchOptions,
  dbUrl: string,
  dataset: Dataset,
  token: string,
  secret: string,
  results: ScenarioResult[],
): Promise<TargetInfo> {
  const scenarios = SCENARIOS.filter((s) => s.targets[target] && (options.only.size === 0 || options.only.has(s.id)));
  const subscriptions = target === 'ours' && (options.only.size === 0 || options.only.has('E1'));
  const bulkGrants = target === 'ours' && (options.only.size === 0 || options.only.has('M2'));
  const webhooks = target === 'ours' && (options.only.size === 0 || options.only.has('W1'));
  if (scenarios.length === 0 && !subscriptions && !bulkGrants && !webhooks) return { target, status: 'not run', reason: 'no scenario selected' };

  const pgServer = new URL(options.pgUrl);
  const proxy = new CountingProxy(pgServer.hostname === 'localhost' ? '127.0.0.1' : pgServer.hostname, Number(pgServer.port || 5432));
  const proxyPort = await proxy.start();
  const port = await freePort();
  const setup = targetSetup(target, options, databaseUrl(options.pgUrl, options.database, proxyPort), port, secret);
  const started = Date.now();
  let server: ServerProcess | undefined;
  try {
    log(`starting ${TARGET_LABELS[target]}`);
    server = await startServer({ name: target, ...setup, ...withFileLimit(setup.command, setup.args), cwd: ROOT, port, readyPath: '/readyz', readyTimeoutMs: 90_000 });
    const info: TargetInfo = {
      target,
      status: 'ok',
      pid: server.pid,
      startupMs: Date.now() - started,
      idleRssMiB: readMemory(server.pid).rss / MiB,
    };
    const client = makeClient(target, server.origin, token);
    const fields = target === 'ours' ? await rootFields(client) : undefined;

    for (const scenario of scenarios) {
      const base = { scenario: scenario.id, title: scenario.title, target, ...(scenario.unit ? { unit: scenario.unit } : {}) };
      const missing = fields ? scenario.requires.filter((f) => !fields.has(f)) : [];
      if (missing.length > 0) {
        log(`${scenario.id} ${target}: skipped (field not in schema: ${missing.join(', ')})`);
        results.push({ ...base, status: 'skipped', reason: `field not in schema: ${missing.join(', ')}` });
        continue;
      }
      // Let requests still running on the server finish before undoing their effects.
      const cleanup = async () => {
        if (!scenario.cleanup) return;
        await proxy.settle();
        await runCleanup(dbUrl, scenario.cleanup(dataset));
      };
      try {
        const plan = await scenario.targets[target]!({ target: client, dataset });
        const check = await preflight(client, plan);
        await cleanup();
        if (check.problem) throw new Error(`pre-flight answer rejected: ${check.problem}`);
        const load = { url: client.url, headers: client.headers, connections: options.connections, plan };
        if (options.warmupSeconds > 0) {
          await runLoad({ ...load, seconds: options.warmupSeconds });
          await cleanup();
        }
        const perScenario = resetPeakRss(server.pid);
        const before = proxy.snapshot();
        const cpuBefore = readCpuMs(server.pid);
        const result = await runLoad({ ...load, seconds: options.seconds });
        const cpuMs = readCpuMs(server.pid) - cpuBefore;
        const sql = diffCounts(proxy.snapshot(), before);
        const memory = readMemory(server.pid);
        await cleanup();
        const per = (n: number) => (result.requests > 0 ? n / result.requests : Number.NaN);
        results.push({
          ...base,
          status: 'ok',
          requests: result.requests,
          seconds: result.seconds,
          rps: result.rps,
          latencyMs: result.latency,
          failedResponses: result.failed,
          firstFailure: result.firstFailure,
          socketErrors: result.socketErrors,
          timeouts: result.timeouts,
          sql: {
            statementsPerRequest: per(sql.statements),
            transactionsPerRequest: per(sql.transactions),
            roundTripsPerRequest: per(sql.roundTrips),
            totals: sql,
          },
          memory: { peakRssMiB: memory.peakRss / MiB, rssMiB: memory.rss / MiB, perScenario },
          cpuMsPerRequest: per(cpuMs),
          ...(check.digest !== undefined ? { digest: check.digest } : {}),
        });
        log(
          `${scenario.id} ${target}: ${result.rps.toFixed(0)} req/s, p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms, ` +
            `${per(sql.statements).toFixed(2)} stmts/req, ${per(cpuMs).toFixed(2)} CPU ms/req, peak RSS ${(memory.peakRss / MiB).toFixed(0)} MiB` +
            (result.failed ? `, ${result.failed} bad answers (${result.firstFailure})` : ''),
        );
      } catch (error) {
        const reason = (error as Error).message;
        log(`${scenario.id} ${target}: failed: ${reason}`);
        results.push({ ...base, status: 'failed', reason });
        await cleanup().catch(() => {});
      }
    }
    if (bulkGrants) {
      await benchBulkGrants(client, proxy, server.pid, dataset, options, fields!, results);
    }
    if (subscriptions) {
      await benchSubscriptions(client, proxy, server, dataset, secret, results, options.e1Subscribers);
    }
    if (webhooks) {
      await benchWebhooks(client, proxy, server.pid, results);
    }
    return info;
  } catch (error) {
    const reason = (error as Error).message;
    log(`${target}: failed: ${reason}`);
    for (const scenario of scenarios) {
      if (!results.some((r) => r.scenario === scenario.id && r.target === target)) {
        results.push({ scenario: scenario.id, title: scenario.title, target, status: 'failed', reason: `target did not start: ${reason.split('\n')[0]}` });
      }
    }
    return { target, status: 'failed', reason };
  } finally {
    await server?.stop();
    await proxy.stop();
  }
}

const M2_IDS = 1000;

/** M2: enableModels of 1000 entries into an empty workspace, then replaceModelAccess back to empty, one call at a time. */
async function benchBulkGrants(
  client: TargetClient,
  proxy: CountingProxy,
  pid: number,
  dataset: Dataset,
  options: BenchOptions,
  fields: Set<string>,
  results: ScenarioResult[],
): Promise<void> {
  const rows = {
    enable: { scenario: 'M2-enable', title: `enableModels of ${M2_IDS} entries into an empty workspace`, target: 'ours' as const, unit: 'one call' },
    replace: { scenario: 'M2-replace', title: `replaceModelAccess of that workspace back to empty`, target: 'ours' as const, unit: 'one call' },
  };
  const missing = ['Mutation.enableModels', 'Mutation.replaceModelAccess'].filter((field) => !fields.has(field));
  if (missing.length > 0) {
    for (const row of Object.values(rows)) results.push({ ...row, status: 'skipped', reason: `field not in schema: ${missing.join(', ')}` });
    return;
  }
  try {
    const perScenario = resetPeakRss(pid);
    const cpuBefore = readCpuMs(pid);
    const started = performance.now();
    const measured = await measureBulkGrants({
      url: client.url,
      token: client.headers.authorization.slice('Bearer '.length),
      proxy,
      catalogIds: dataset.visibleCatalogIds,
      ids: M2_IDS,
      seconds: options.seconds,
    });
    const seconds = (performance.now() - started) / 1000;
    const calls = measured.enable.calls + measured.replace.calls;
    const cpuMsPerRequest = (readCpuMs(pid) - cpuBefore) / calls;
    const memory = readMemory(pid);
    for (const kind of ['enable', 'replace'] as const) {
      const call = measured[kind];
      results.push({
        ...rows[kind],
        status: 'ok',
        requests: call.calls,
        seconds,
        latencyMs: call.latency,
        sql: {
          statementsPerRequest: call.statementsPerCall,
          transactionsPerRequest: call.transactionsPerCall,
          roundTripsPerRequest: Number.NaN,
          totals: { statements: 0, transactions: 0, roundTrips: 0, queries: 0, executes: 0, parses: 0, connections: 0 },
        },
        cpuMsPerRequest,
        memory: { peakRssMiB: memory.peakRss / MiB, rssMiB: memory.rss / MiB, perScenario },
      });
      log(
        `M2 ${kind}: ${call.calls} calls, p50 ${call.latency.p50.toFixed(1)} ms, p99 ${call.latency.p99.toFixed(1)} ms, ` +
          `${call.statementsPerCall.toFixed(2)} stmts/call, ${call.transactionsPerCall.toFixed(2)} tx/call`,
      );
    }
  } catch (error) {
    log(`M2: failed: ${(error as Error).message}`);
    for (const row of Object.values(rows)) results.push({ ...row, status: 'failed', reason: (error as Error).message });
  }
}

const E1_CHANGES = 100;
const E1_INTERVAL_MS = 50;

/** E1: delivery latency, service CPU and statements per change at each of BENCH_E1_SUBSCRIBERS SSE subscribers. */
async function benchSubscriptions(
  client: TargetClient,
  proxy: CountingProxy,
  server: ServerProcess,
  dataset: Dataset,
  secret: string,
  results: ScenarioResult[],
  counts: number[],
): Promise<void> {
  const pid = server.pid;
  const writerToken = client.headers.authorization.slice('Bearer '.length);
  for (const subscribers of counts) {
    const base = { scenario: 'E1', title: `${subscribers} SSE subscribers while a writer commits`, target: 'ours' as const, subscribers };
    try {
      const perScenario = resetPeakRss(pid);
      const measured = await measureSubscriptions({
        url: client.url,
        writerToken,
        subscriberToken: (index) =>
          mintToken(secret, { subject: `e1-subscriber-${index}`, organizationId: dataset.organizationId, scopes: ['agent:read'], expiresIn: '1h' }),
        proxy,
        subscribers,
        changes: E1_CHANGES,
        intervalMs: E1_INTERVAL_MS,
        serviceCpuMs: () => readCpuMs(pid),
      });
      const memory = readMemory(pid);
      const cpuMsPerChange = measured.cpuMsPerChange;
      results.push({
        ...base,
        status: 'ok',
        requests: measured.changes,
        deliveryP50Ms: measured.deliveryP50Ms,
        deliveryP99Ms: measured.deliveryP99Ms,
        statementsPerChange: measured.statementsPerChange,
        missingDeliveries: measured.missing,
        repeatedDeliveries: measured.repeated,
        cpuMsPerRequest: cpuMsPerChange,
        memory: { peakRssMiB: memory.peakRss / MiB, rssMiB: memory.rss / MiB, perScenario },
      });
      log(
        `E1 ${subscribers} subscribers: delivery p50 ${measured.deliveryP50Ms.toFixed(1)} ms, p99 ${measured.deliveryP99Ms.toFixed(1)} ms, ` +
          `${measured.statementsPerChange.toFixed(2)} stmts/change, ${cpuMsPerChange.toFixed(1)} CPU ms/change, ` +
          `${measured.missing} missing, ${measured.repeated} repeated, peak RSS ${(memory.peakRss / MiB).toFixed(0)} MiB`,
      );
    } catch (error) {
      log(`E1 ${subscribers} subscribers: failed: ${(error as Error).message}\nthe service's last lines:\n${server.output()}`);
      results.push({ ...base, status: 'failed', reason: (error as Error).message });
    }
  }
}

const W1_ENDPOINTS = 10;
const W1_CHANGES = 1_000;
const W1_CALIBRATION_CHANGES = 200;

/** W1: 10 webhook endpoints on loopback receivers answering in 5 ms while a writer commits 1 000 changes. */
async function benchWebhooks(client: TargetClient, proxy: CountingProxy, pid: number, results: ScenarioResult[]): Promise<void> {
  const base = { scenario: 'W1', title: `${W1_ENDPOINTS} webhook endpoints (receivers answering in 5 ms) while a writer commits ${W1_CHANGES} changes`, target: 'ours' as const };
  try {
    const perScenario = resetPeakRss(pid);
    const measured = await measureWebhooks({
      url: client.url,
      token: client.headers.authorization.slice('Bearer '.length),
      proxy,
      readCpuMs: () => readCpuMs(pid),
      endpoints: W1_ENDPOINTS,
      changes: W1_CHANGES,
      calibrationChanges: W1_CALIBRATION_CHANGES,
    });
    const memory = readMemory(pid);
    results.push({
      ...base,
      status: 'ok',
      requests: measured.deliveries,
      webhooks: measured,
      memory: { peakRssMiB: memory.peakRss / MiB, rssMiB: memory.rss / MiB, perScenario },
    });
    log(
      `W1: ${measured.deliveredPerSecond.toFixed(0)} deliveries/s (writer ${measured.writerChangesPerSecond.toFixed(0)} changes/s, ${measured.writerAloneChangesPerSecond.toFixed(0)} alone), ` +
        `receipt p50 ${measured.receiptP50Ms.toFixed(1)} ms, p99 ${measured.receiptP99Ms.toFixed(1)} ms, ${measured.statementsPerDelivery.toFixed(2)} stmts/delivery ` +
        `(${measured.statementsPerDeliveryAll.toFixed(2)} with the writer's), ${measured.cpuMsPerDelivery.toFixed(3)} CPU ms/delivery, ${measured.lost} lost, ${measured.unverified} unverified`,
    );
  } catch (error) {
    log(`W1: failed: ${(error as Error).message}`);
    results.push({ ...base, status: 'failed', reason: (error as Error).message });
  }
}

async function main(): Promise<void> {
  const options = loadOptions();
  const startedAt = new Date();
  const watchdog = setTimeout(() => {
    log(`aborting: the run exceeded BENCH_MAX_SECONDS=${options.maxSeconds}`);
    killAllChildren();
    process.exit(1);
  }, options.maxSeconds * 1000);
  const abort = (signal: string) => {
    log(`${signal}: stopping`);
    killAllChildren();
    process.exit(130);
  };
  process.once('SIGINT', () => abort('SIGINT'));
  process.once('SIGTERM', () => abort('SIGTERM'));

  const machine = await machineInfo(options.pgUrl);
  if (options.targets.has('ours')) {
    log('building the service (npm run build)');
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  log(`recreating database ${options.database} and applying migrations`);
  const dbUrl = await recreateDatabase(options.pgUrl, options.database);
  log('seeding');
  const dataset = await seed(dbUrl, options.seed);
  log(
    `seeded in ${(dataset.seedMillis / 1000).toFixed(1)} s: ${dataset.counts.catalog.total} catalog rows, ${dataset.counts.grants.total} grants`,
  );

  const secret = crypto.randomBytes(32).toString('base64url');
  const token = await mintToken(secret, { subject: 'bench', organizationId: dataset.organizationId, scopes: ['*'], expiresIn: '2h' });

  const results: ScenarioResult[] = [];
  const targets: TargetInfo[] = [];
  const notes: string[] = [];
  // The service first: its startup may seed platform rows, which the baselines then see too.
  for (const target of ALL_TARGETS) {
    if (!options.targets.has(target)) {
      targets.push({ target, status: 'not run', reason: 'excluded by BENCH_TARGETS' });
      continue;
    }
    targets.push(await benchTarget(target, options, dbUrl, dataset, token, secret, results));
    if (target === 'ours') {
      const grants = await countGrants(dbUrl);
      if (grants !== SHAPE.grants) notes.push(`after the service's scenarios the database holds ${grants} grants instead of ${SHAPE.grants}`);
      // Clean up after the mutation scenario so the baselines read a freshly analyzed table.
      await vacuumAnalyze(dbUrl);
    }
  }

  let dataAccess: DataAccessCost[] = [];
  if (options.targets.has('ours')) {
    log('measuring data-access costs (sequential)');
    dataAccess = await measureDataAccess(dbUrl, dataset.organizationId);
  }

  if (!options.keepDatabase) await dropDatabase(options.pgUrl, options.database);

  const { visibleCatalogIds: _ids, ...datasetSummary } = dataset;
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    settings: {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      connections: options.connections,
      database: options.database,
      seed: options.seed,
      serviceMetrics: options.serviceMetrics,
    },
    machine,
    dataset: datasetSummary,
    targets,
    results,
    ratios: computeRatios(results),
    agreement: computeAgreement(results),
    dataAccess,
    notes: [
      ...notes,
      'SQL statements are counted by a TCP proxy between each target and PostgreSQL: one per simple Query message plus one per extended-protocol Execute; ' +
        'transactions are BEGIN/START TRANSACTION statements; round trips are Query plus Sync messages. Counts are divided by the responses received in the measured window.',
      'Peak RSS is the kernel high-water mark (VmHWM) of the target process, reset before each measured window when the kernel allows (clear_refs).',
      'Server CPU ms/req is the target process\'s user + system CPU time (all threads, from /proc/<pid>/stat) over the measured window, divided by the responses; PostgreSQL\'s own CPU is not in it.',
      'Baselines: PostGraphile and the hand-written server read capabilities and limits from the generated columns; PostGraphile finds the organization-level grant through a nested connection ' +
        'filtered to workspace_id null; the hand-written server answers by operationName with one SQL statement per request, no GraphQL parsing.',
    ],
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const markdown = renderMarkdown(report);
  const json = JSON.stringify(report, null, 2);
  fs.writeFileSync(path.join(RESULTS_DIR, `bench-${stamp}.json`), json);
  fs.writeFileSync(path.join(RESULTS_DIR, `bench-${stamp}.md`), markdown);
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), json);
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown);
  process.stdout.write(`\n${markdown}\n`);
  log(`results written to bench/results/bench-${stamp}.{md,json} (and latest.*)`);
  clearTimeout(watchdog);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    killAllChildren();
    process.exit(1);
  },
);
