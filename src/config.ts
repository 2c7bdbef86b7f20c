import { z } from 'zod';

const boolFromEnv = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A comma-separated list of delays such as `5s,5m,2h` (units ms, s, m, h, d), in milliseconds. */
const delayList = z.string().transform((value, issues) => {
  const delays = value.split(',').map((part) => {
    const match = /^\s*(\d{1,9})\s*(ms|s|m|h|d)\s*$/.exec(part);
    return match ? Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS] : NaN;
  });
  if (delays.length > 50 || delays.some((delay) => !Number.isFinite(delay) || delay > 30 * 86_400_000)) {
    issues.addIssue({ code: 'custom', message: 'a comma-separated list of at most 50 delays such as 5s,5m,2h (units ms, s, m, h, d; each at most 30d)' });
    return z.NEVER;
  }
  return delays;
});

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: optionalString,
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  // Off behind a pooler that cannot keep prepared statements (see README, "Running on PostgreSQL").
  DATABASE_PREPARED_STATEMENTS: boolFromEnv.default(true),
  DATA_DIR: z.string().default('./.data'),
  AUTH_JWT_SECRET: optionalString,
  AUTH_JWKS_URL: optionalString,
  AUTH_ISSUER: optionalString,
  AUTH_AUDIENCE: optionalString,
  DB_ENCRYPTION_KEY: optionalString,
  DB_ENCRYPTION_KEYS_PREVIOUS: optionalString,
  DISCOVERY_DENY_PRIVATE_NETWORKS: boolFromEnv.default(false),
  PLATFORM_CATALOG_FILE: optionalString,
  DISCOVERY_VALIDATE_TIMEOUT_MS: z.coerce.number().int().min(10).max(120_000).default(10_000),
  DISCOVERY_REFRESH_TIMEOUT_MS: z.coerce.number().int().min(10).max(300_000).default(30_000),
  // Query protections (see README, "Limits").
  MAX_QUERY_DEPTH: z.coerce.number().int().min(1).max(100).default(12),
  MAX_QUERY_ALIASES: z.coerce.number().int().min(0).max(1000).default(15),
  MAX_QUERY_DIRECTIVES: z.coerce.number().int().min(0).max(1000).default(10),
  MAX_QUERY_TOKENS: z.coerce.number().int().min(10).max(1_000_000).default(3000),
  MAX_QUERY_COST: z.coerce.number().int().min(1).max(10_000_000).default(25_000),
  // Fields an operation selects once its fragments are expanded (every spread counts its
  // fragment's fields again): a small document that spreads fragments repeatedly stands for
  // exponentially many fields.
  MAX_EXPANDED_FIELDS: z.coerce.number().int().min(1).max(10_000_000).default(20_000),
  MAX_REQUEST_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(2 * 1024 * 1024),
  MAX_VARIABLES_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
  MAX_STRING_LENGTH: z.coerce.number().int().min(16).max(1_000_000).default(4096),
  MAX_JSON_DEPTH: z.coerce.number().int().min(1).max(50).default(10),
  MAX_JSON_BYTES: z.coerce.number().int().min(64).max(10 * 1024 * 1024).default(64 * 1024),
  MAX_BATCH_OPERATIONS: z.coerce.number().int().min(0).max(100).default(0),
  INTROSPECTION: z.enum(['public', 'authenticated', 'disabled']).optional(),
  RATE_LIMIT_POINTS: z.coerce.number().int().min(0).max(1_000_000).default(600),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  REDIS_URL: optionalString,
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(10).max(600_000).default(10_000),
  DB_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(20_000),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(120_000).default(1_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(15_000),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  // Change feed and subscriptions (see README, "Change feed").
  DATABASE_LISTEN_URL: optionalString,
  CHANGE_FEED_RETENTION_HOURS: z.coerce.number().positive().max(24 * 366).default(168),
  CHANGE_FEED_POLL_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  MAX_SUBSCRIPTIONS: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  MAX_SUBSCRIPTIONS_PER_ACTOR: z.coerce.number().int().min(0).max(10_000).default(20),
  RESPONSE_CACHE_MAX_BYTES: z.coerce.number().int().min(0).max(4 * 1024 ** 3).default(32 * 1024 * 1024),
  // Operations (see README, "Metrics" and "Tracing").
  METRICS_ENABLED: boolFromEnv.default(true),
  METRICS_TOKEN: optionalString.pipe(z.string().min(16).max(1000).optional()),
  METRICS_MAX_OPERATION_NAMES: z.coerce.number().int().min(0).max(10_000).default(100),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString,
  // Webhooks (see README, "Webhooks").
  // Longest an attempt may take, connection and answer included; longer is a failure.
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
  // The delays before each retry of a failed delivery; after the last one it is FAILED.
  WEBHOOK_RETRY_SCHEDULE: z.string().default('5s,5m,30m,2h,5h,10h,14h,20h,24h').pipe(delayList),
  // An endpoint without a success for this long while its deliveries fail is disabled (FAILING).
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().positive().max(24 * 366).default(120),
  // How long the previous secret still signs after rotateWebhookSecret.
  WEBHOOK_SECRET_OVERLAP_HOURS: z.coerce.number().min(0).max(24 * 31).default(24),
  // Allows http:// webhook URLs in production (https only otherwise; other environments allow both).
  WEBHOOK_ALLOW_HTTP: boolFromEnv.default(false),
  // How long an instance holds the deliveries it claimed: another instance retries them once it ends (a crash).
  WEBHOOK_LEASE_MS: z.coerce.number().int().min(500).max(3_600_000).default(60_000),
  // Endpoints one instance delivers to at once (each endpoint's first attempts go one after another, in feed order).
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(16),
  // Whether this instance delivers webhooks (every instance may; they share the work through leases).
  WEBHOOK_DISPATCHER: boolFromEnv.default(true),
  // Trusted documents (see README, "Trusted documents").
  PERSISTED_DOCUMENTS: z.enum(['off', 'allow', 'require']).optional(),
  PERSISTED_DOCUMENTS_FILE: optionalString,
}).superRefine((config, issues) => {
  // Without a manifest there is nothing to allow or require: saying so beats a service that refuses every user.
  // An attempt must end within the lease, or a second instance could start one beside it.
  if (config.WEBHOOK_LEASE_MS < config.WEBHOOK_TIMEOUT_MS + 1_000) {
    issues.addIssue({ code: 'custom', path: ['WEBHOOK_LEASE_MS'], message: 'must exceed WEBHOOK_TIMEOUT_MS by at least 1000' });
  }
  if (config.PERSISTED_DOCUMENTS && config.PERSISTED_DOCUMENTS !== 'off' && !config.PERSISTED_DOCUMENTS_FILE) {
    issues.addIssue({
      code: 'custom',
      path: ['PERSISTED_DOCUMENTS'],
      message: `${config.PERSISTED_DOCUMENTS} needs a manifest: set PERSISTED_DOCUMENTS_FILE`,
    });
  }
});

export type Config = z.infer<typeof envSchema>;

/** The Node.js major the service is built and tested for (the `node` dependency). */
export const REQUIRED_NODE_MAJOR = 24;

/** Refuses an older runtime, e.g. a script started with the machine's Node instead of the project's. */
export function assertSupportedRuntime(version = process.versions.node): void {
  if (Number(version.split('.')[0]) < REQUIRED_NODE_MAJOR) {
    throw new Error(
      `Node.js ${REQUIRED_NODE_MAJOR} or later is required, this is ${version}. ` +
        'Start through npm (`npm start`, `npm run cli`), which uses the Node.js the project installs, or install a newer Node.js.',
    );
  }
}

/** Parses the environment once; a bad value stops startup with the variable named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return parsed.data;
}
