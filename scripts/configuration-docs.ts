// Writes docs/configuration.md from the settings' schema in src/config.ts: every setting
// with its type, default and description, grouped by section. `--check` fails when the
// file is not what this would write (run by the test suite), so the reference cannot
// drift from what the service reads.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { settingsSchema } from '../src/config.ts';

export const CONFIGURATION_DOC = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

interface Meta {
  section: string;
  description: string;
  shownDefault?: string;
}

type Def = { type: string; defaultValue?: unknown; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType; entries?: Record<string, string> };
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** What a value of `schema` looks like, e.g. `integer 1–200`, `true`/`false`, `off` \| `allow`. */
function typeOf(schema: z.ZodType): string {
  const def = defOf(schema);
  switch (def.type) {
    case 'default':
    case 'optional':
      return typeOf(def.innerType!);
    case 'pipe': {
      const input = defOf(def.in!);
      // The boolean settings: an enum of spellings turned into a boolean.
      if (input.type === 'enum' && Object.keys(input.entries!).includes('true')) return '`true` \\| `false`';
      return input.type === 'transform' ? typeOf(def.out!) : typeOf(def.in!);
    }
    case 'enum':
      return Object.values(def.entries!).map((value) => `\`${value}\``).join(' \\| ');
    case 'number': {
      const number = schema as z.ZodNumber;
      const bounds = (value: number | null) => (value === null || !Number.isFinite(value) ? '' : value.toLocaleString('en-US'));
      const kind = number.isInt ? 'integer' : 'number';
      const min = bounds(number.minValue);
      const max = bounds(number.maxValue);
      return min || max ? `${kind} ${min}–${max}` : kind;
    }
    default:
      return def.type;
  }
}

function defaultOf(schema: z.ZodType, meta: Meta): string {
  if (meta.shownDefault !== undefined) return meta.shownDefault;
  const def = defOf(schema);
  if (def.type !== 'default') return 'unset';
  return `\`${String(def.defaultValue)}\``;
}

export function renderConfigurationDoc(): string {
  const sections = new Map<string, string[]>();
  for (const [name, schema] of Object.entries(settingsSchema.shape) as [string, z.ZodType][]) {
    const meta = schema.meta() as Meta | undefined;
    if (!meta?.description || !meta.section) throw new Error(`${name} in src/config.ts has no section or description`);
    const rows = sections.get(meta.section) ?? [];
    rows.push(`| \`${name}\` | ${typeOf(schema)} | ${defaultOf(schema, meta)} | ${meta.description.replaceAll('|', '\\|')} |`);
    sections.set(meta.section, rows);
  }
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config.ts by `npm run docs:config`; edit the descriptions there. -->',
    '',
    'The service reads these environment variables at startup. A value outside its type or range',
    'stops startup with a message naming the variable. In development (`NODE_ENV` other than',
    '`production`) missing secrets are generated once into `DATA_DIR/secrets.json`; in',
    'production `AUTH_JWT_SECRET` (or `AUTH_JWKS_URL`) and `DB_ENCRYPTION_KEY` must be set.',
    '',
    'Tracing also follows the OpenTelemetry SDK\'s standard variables (`OTEL_EXPORTER_OTLP_PROTOCOL`,',
    '`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_PROPAGATORS`,',
    '`OTEL_SDK_DISABLED`, …) once `OTEL_EXPORTER_OTLP_ENDPOINT` is set; see [operating.md](operating.md#tracing).',
  ];
  for (const [section, rows] of sections) {
    lines.push('', `## ${section}`, '', '| variable | type | default | meaning |', '| --- | --- | --- | --- |', ...rows);
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rendered = renderConfigurationDoc();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(CONFIGURATION_DOC, 'utf8');
    } catch {}
    if (current !== rendered) {
      console.error('docs/configuration.md is not current: run `npm run docs:config`');
      process.exit(1);
    }
  } else {
    writeFileSync(CONFIGURATION_DOC, rendered);
  }
}
