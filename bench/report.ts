import type { WebhookResult } from './webhooks.ts';
import type { Dataset } from './dataset.ts';
import type { LatencySummary } from './load.ts';
import type { StatementCounts } from './pg-counting-proxy.ts';
import type { TargetName } from './options.ts';
import type { DataAccessCost } from './data-access.ts';

export const TARGET_LABELS: Record<TargetName, string> = {
  ours: 'model control plane',
  postgraphile: 'PostGraphile v5',
  handwritten: 'hand-written pg',
};

export interface ScenarioResult {
  scenario: string;
  title: string;
  target: TargetName;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  unit?: string;
  requests?: number;
  seconds?: number;
  rps?: number;
  latencyMs?: LatencySummary;
  /** Responses that were not correct answers during the measured window. */
  failedResponses?: number;
  firstFailure?: string | null;
  socketErrors?: number;
  timeouts?: number;
  sql?: {
    statementsPerRequest: number;
    transactionsPerRequest: number;
    roundTripsPerRequest: number;
    totals: StatementCounts;
  };
  /** CPU time of the target's process (all threads) over the window ÷ responses. */
  cpuMsPerRequest?: number;
  memory?: {
    peakRssMiB: number;
    rssMiB: number;
    /** True when the peak was reset before the scenario (else: since process start). */
    perScenario: boolean;
  };
  /** Normalized first answer, to compare targets. */
  digest?: string;
  /** E1: subscribers of the organization while the writer commits. */
  subscribers?: number;
  deliveryP50Ms?: number;
  deliveryP99Ms?: number;
  statementsPerChange?: number;
  /** E1: events that did not arrive within two seconds of the last change. */
  missingDeliveries?: number;
  /** E1: events a subscriber received more than once. */
  repeatedDeliveries?: number;
  /** W1: webhook deliveries while the writer commits (bench/webhooks.ts). */
  webhooks?: WebhookResult;
}

export interface TargetInfo {
  target: TargetName;
  status: 'ok' | 'failed' | 'not run';
  reason?: string;
  startupMs?: number;
  idleRssMiB?: number;
  pid?: number;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  pgStatStatements: string;
  gitCommit: string;
  packages: Record<string, string>;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  settings: {
    seconds: number;
    warmupSeconds: number;
    connections: number;
    database: string;
    seed: number;
    /** METRICS_ENABLED of the service. */
    serviceMetrics: boolean;
  };
  machine: Machine;
  dataset: Omit<Dataset, 'visibleCatalogIds'>;
  targets: TargetInfo[];
  results: ScenarioResult[];
  ratios: Ratio[];
  agreement: Agreement[];
  /** Sequential costs of one catalog page through each data layer. */
  dataAccess: DataAccessCost[];
  notes: string[];
}

export interface Ratio {
  scenario: string;
  versus: TargetName;
  rps: number | null;
  p50: number | null;
  p99: number | null;
  statementsPerRequest: number | null;
  cpuPerRequest: number | null;
  peakRss: number | null;
}

export interface Agreement {
  scenario: string;
  targets: TargetName[];
  identical: boolean;
  detail: string;
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : a / b;

export function computeRatios(results: ScenarioResult[]): Ratio[] {
  const ratios: Ratio[] = [];
  const find = (scenario: string, target: TargetName) =>
    results.find((r) => r.scenario === scenario && r.target === target && r.status === 'ok');
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    for (const versus of ['postgraphile', 'handwritten'] as const) {
      const other = find(scenario, versus);
      if (!other) continue;
      const ours = find(scenario, 'ours');
      ratios.push({
        scenario,
        versus,
        rps: ratio(ours?.rps, other.rps),
        p50: ratio(ours?.latencyMs?.p50, other.latencyMs?.p50),
        p99: ratio(ours?.latencyMs?.p99, other.latencyMs?.p99),
        statementsPerRequest: ratio(ours?.sql?.statementsPerRequest, other.sql?.statementsPerRequest),
        cpuPerRequest: ratio(ours?.cpuMsPerRequest, other.cpuMsPerRequest),
        peakRss: ratio(ours?.memory?.peakRssMiB, other.memory?.peakRssMiB),
      });
    }
  }
  return ratios;
}

export function computeAgreement(results: ScenarioResult[]): Agreement[] {
  const out: Agreement[] = [];
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const withDigest = results.filter((r) => r.scenario === scenario && r.status === 'ok' && r.digest !== undefined);
    if (withDigest.length < 2) continue;
    const reference = withDigest[0]!;
    const differing = withDigest.filter((r) => r.digest !== reference.digest).map((r) => r.target);
    const rows = reference.digest!.split(scenario === 'Q0' ? ',' : '\n').filter(Boolean).length;
    out.push({
      scenario,
      targets: withDigest.map((r) => r.target),
      identical: differing.length === 0,
      detail:
        differing.length === 0
          ? scenario === 'Q0' ? `same ${rows} workspaces (names compared)` : `same ${rows} rows in the same order (id, enabled flag, provider name, capabilities, max input tokens)`
          : `${differing.join(', ')} differ from ${reference.target}`,
    });
  }
  return out;
}

const fmt = (n: number | undefined | null, digits = 1) =>
  n === undefined || n === null || !Number.isFinite(n) ? '–' : n.toFixed(digits);
const fmtRatio = (n: number | null) => (n === null ? '–' : `${n.toFixed(2)}×`);

export function renderMarkdown(report: BenchReport): string {
  const lines: string[] = [];
  const { machine: m, settings: s, dataset: d } = report;
  lines.push(`# Benchmark results — ${report.startedAt}`);
  lines.push('');
  lines.push(
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB RAM, Linux ${m.kernel}; Node ${m.node}; ${m.postgres}. ` +
      `Commit ${m.gitCommit}.`,
  );
  lines.push(
    `Load: autocannon, ${s.connections} connections, ${s.seconds} s measured after ${s.warmupSeconds} s warm-up per scenario and target, all on 127.0.0.1. ` +
      `Service metrics ${s.serviceMetrics ? 'on' : 'off'}.`,
  );
  lines.push(
    `Dataset (seed ${s.seed}): ${d.counts.organizations} organizations, ${d.counts.workspaces} workspaces, ${d.counts.customProviders} custom providers, ` +
      `${d.counts.catalog.total} catalog rows (${d.counts.catalog.platform} platform, ${d.counts.catalog.organization} organization, ${d.counts.catalog.customProvider} custom-provider), ` +
      `${d.counts.grants.total} grants (${d.counts.grants.organizationLevel} organization-level). Measured tenant sees ${d.counts.tenant.visibleCatalog} entries, ` +
      `${d.counts.tenant.orgLevelGrants} organization-level grants, ${d.counts.tenant.overrideGrants} grants on its override workspace.`,
  );
  lines.push('');
  lines.push('| Scenario | Target | req/s | p50 ms | p99 ms | SQL stmts/req | tx/req | round trips/req | server CPU ms/req | peak RSS MiB | bad answers |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const order = [...new Set(report.results.map((r) => r.scenario))];
  const targetOrder = Object.keys(TARGET_LABELS);
  const sorted = [...report.results].sort(
    (a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario) || targetOrder.indexOf(a.target) - targetOrder.indexOf(b.target),
  );
  const subscriptionRows = sorted.filter((r) => r.subscribers !== undefined);
  const webhookRows = sorted.filter((r) => r.scenario === 'W1');
  for (const r of sorted.filter((row) => row.subscribers === undefined && row.scenario !== 'W1')) {
    const name = r.unit ? `${r.scenario} (per mutation)` : r.scenario;
    if (r.status !== 'ok') {
      lines.push(`| ${name} | ${TARGET_LABELS[r.target]} | ${r.status}: ${(r.reason ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 160)} |  |  |  |  |  |  |  |  |`);
      continue;
    }
    lines.push(
      `| ${name} | ${TARGET_LABELS[r.target]} | ${fmt(r.rps, 0)} | ${fmt(r.latencyMs?.p50, 2)} | ${fmt(r.latencyMs?.p99, 2)} | ` +
        `${fmt(r.sql?.statementsPerRequest, 2)} | ${fmt(r.sql?.transactionsPerRequest, 2)} | ${fmt(r.sql?.roundTripsPerRequest, 2)} | ` +
        `${fmt(r.cpuMsPerRequest, 2)} | ${fmt(r.memory?.peakRssMiB, 0)} | ${r.failedResponses ?? 0}${r.socketErrors || r.timeouts ? ` (+${r.socketErrors} socket errors, ${r.timeouts} timeouts)` : ''} |`,
    );
  }
  if (subscriptionRows.length) {
    lines.push('');
    lines.push('Subscriptions (E1: SSE subscribers of one organization while a writer commits; delivery = receipt − occurredAt):');
    lines.push('');
    lines.push('| Scenario | subscribers | delivery p50 ms | delivery p99 ms | SQL stmts per change | missing deliveries | repeated deliveries | server CPU ms per change | peak RSS MiB |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of subscriptionRows) {
      if (r.status !== 'ok') {
        lines.push(`| ${r.scenario} | ${r.subscribers} | ${r.status}: ${(r.reason ?? '').replace(/\|/g, '\\|').slice(0, 160)} |  |  |  |  |  |  |`);
        continue;
      }
      lines.push(
        `| ${r.scenario} | ${r.subscribers} | ${fmt(r.deliveryP50Ms, 1)} | ${fmt(r.deliveryP99Ms, 1)} | ${fmt(r.statementsPerChange, 2)} | ${r.missingDeliveries ?? 0} | ${r.repeatedDeliveries ?? 0} | ${fmt(r.cpuMsPerRequest, 2)} | ${fmt(r.memory?.peakRssMiB, 0)} |`,
      );
    }
  }
  if (webhookRows.length) {
    lines.push('');
    lines.push(
      'Webhooks (W1: endpoints on loopback receivers answering in 5 ms while a writer commits changes one after another; receipt = arrival − occurredAt; ' +
        "statements and CPU per delivery without the writer's share, measured alone first):",
    );
    lines.push('');
    lines.push('| Scenario | endpoints | changes | delivered/s | writer changes/s | receipt p50 ms | receipt p99 ms | SQL stmts per delivery (with writer) | server CPU ms per delivery (with writer) | lost | unverified | peak RSS MiB |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of webhookRows) {
      const w = r.webhooks;
      if (r.status !== 'ok' || !w) {
        lines.push(`| ${r.scenario} | ${r.status}: ${(r.reason ?? '').replace(/\|/g, '\\|').slice(0, 160)} |  |  |  |  |  |  |  |  |  |  |`);
        continue;
      }
      lines.push(
        `| ${r.scenario} | ${w.endpoints} | ${w.changes} | ${fmt(w.deliveredPerSecond, 0)} | ${fmt(w.writerChangesPerSecond, 0)} | ${fmt(w.receiptP50Ms, 1)} | ${fmt(w.receiptP99Ms, 1)} | ` +
          `${fmt(w.statementsPerDelivery, 2)} (${fmt(w.statementsPerDeliveryAll, 2)}) | ${fmt(w.cpuMsPerDelivery, 3)} (${fmt(w.cpuMsPerDeliveryAll, 3)}) | ${w.lost} | ${w.unverified} | ${fmt(r.memory?.peakRssMiB, 0)} |`,
      );
    }
  }
  if (report.ratios.length) {
    lines.push('');
    lines.push('Ratios, model control plane ÷ baseline (req/s above 1 = ours faster; latency, statements and RSS above 1 = ours higher):');
    lines.push('');
    lines.push('| Scenario | versus | req/s | p50 | p99 | SQL stmts/req | server CPU/req | peak RSS |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const q of report.ratios) {
      if ([q.rps, q.p50, q.p99, q.statementsPerRequest, q.cpuPerRequest, q.peakRss].every((v) => v === null)) {
        lines.push(`| ${q.scenario} | ${TARGET_LABELS[q.versus]} | service not measured |  |  |  |  |  |`);
        continue;
      }
      lines.push(
        `| ${q.scenario} | ${TARGET_LABELS[q.versus]} | ${fmtRatio(q.rps)} | ${fmtRatio(q.p50)} | ${fmtRatio(q.p99)} | ${fmtRatio(q.statementsPerRequest)} | ${fmtRatio(q.cpuPerRequest)} | ${fmtRatio(q.peakRss)} |`,
      );
    }
  }
  if (report.agreement.length) {
    lines.push('');
    lines.push('Answer agreement (first pre-flight answer, normalized):');
    lines.push('');
    for (const a of report.agreement) {
      lines.push(`- ${a.scenario} (${a.targets.map((t) => TARGET_LABELS[t]).join(', ')}): ${a.identical ? 'identical' : 'DIFFERENT'} — ${a.detail}`);
    }
  }
  lines.push('');
  lines.push('Targets:');
  lines.push('');
  for (const t of report.targets) {
    lines.push(
      `- ${TARGET_LABELS[t.target]}: ${t.status}${t.reason ? ` (${t.reason.split('\n')[0]})` : ''}` +
        (t.startupMs !== undefined ? `; ready in ${(t.startupMs / 1000).toFixed(1)} s, idle RSS ${fmt(t.idleRssMiB, 0)} MiB` : ''),
    );
  }
  if (report.dataAccess.length) {
    const reference = report.dataAccess[0]!;
    lines.push('');
    lines.push(`Data access for one catalog page of 51 rows, one operation after another (CPU of the bench process per operation; ratio to "${reference.name}"):`);
    lines.push('');
    lines.push('| operation | CPU ms | wall ms | CPU ratio |');
    lines.push('|---|---:|---:|---:|');
    for (const cost of report.dataAccess) {
      lines.push(`| ${cost.name} | ${cost.cpuMs.toFixed(3)} | ${cost.wallMs.toFixed(3)} | ${(cost.cpuMs / reference.cpuMs).toFixed(2)}× |`);
    }
  }
  if (report.notes.length) {
    lines.push('');
    for (const note of report.notes) lines.push(`- ${note}`);
  }
  lines.push('');
  return lines.join('\n');
}
