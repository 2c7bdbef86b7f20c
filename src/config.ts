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

/**
 * One setting and its documentation: docs/configuration.md is generated from these
 * (`npm run docs:config`; a test fails when it is not current). `shownDefault` says the
 * default where the schema cannot (computed or generated ones).
 */
function setting<T extends z.ZodType>(section: string, schema: T, description: string, shownDefault?: string): T {
  return schema.meta({ section, description, ...(shownDefault === undefined ? {} : { shownDefault }) });
}

const SERVER = 'Server';
const DATABASE = 'Database';
const AUTH = 'Tokens and secrets';
const DISCOVERY = 'Custom providers';
const LIMITS = 'Limits';
const FEED = 'Change feed and subscriptions';
const OBSERVABILITY = 'Metrics and tracing';
const TRUSTED = 'Trusted documents';
const WEBHOOKS = 'Webhooks';

const envSchema = z.object({
  NODE_ENV: setting(SERVER, z.enum(['development', 'production', 'test']).default('development'),
    '`production` requires explicit secrets, hides field suggestions and makes introspection authenticated-only.'),
  PORT: setting(SERVER, z.coerce.number().int().min(0).max(65535).default(4000), 'HTTP port.'),
  HOST: setting(SERVER, z.string().default('0.0.0.0'), 'Address the HTTP server listens on.'),
  LOG_LEVEL: setting(SERVER, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), 'pino log level.'),
  SHUTDOWN_DRAIN_MS: setting(SERVER, z.coerce.number().int().min(0).max(120_000).default(1_000),
    'On SIGTERM, how long readiness fails while requests are still accepted, so load balancers stop routing here.'),
  SHUTDOWN_GRACE_MS: setting(SERVER, z.coerce.number().int().min(0).max(600_000).default(15_000),
    'After the drain, how long in-flight requests get before the process exits; subscriptions complete at its start.'),
  DATABASE_URL: setting(DATABASE, optionalString,
    'PostgreSQL URL. Unset: the embedded database (PGlite) in `DATA_DIR`.', 'unset'),
  DATABASE_POOL_SIZE: setting(DATABASE, z.coerce.number().int().min(1).max(200).default(10), 'PostgreSQL connection pool size.'),
  DATABASE_PREPARED_STATEMENTS: setting(DATABASE, boolFromEnv.default(true),
    'Prepare each statement once per PostgreSQL connection; `false` behind a pooler that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode).'),
  DATABASE_LISTEN_URL: setting(DATABASE, optionalString,
    "Direct (session-level) PostgreSQL connection each instance holds for the change feed's `LISTEN`; set it when `DATABASE_URL` goes through a transaction-mode pooler.",
    '`DATABASE_URL`'),
  DATA_DIR: setting(DATABASE, z.string().default('./.data'), 'Embedded database files and generated development secrets; one process at a time.'),
  DB_STATEMENT_TIMEOUT_MS: setting(DATABASE, z.coerce.number().int().min(10).max(600_000).default(10_000),
    'PostgreSQL `statement_timeout` of every request transaction (PGlite does not interrupt statements).'),
  DB_TRANSACTION_TIMEOUT_MS: setting(DATABASE, z.coerce.number().int().min(100).max(600_000).default(20_000), 'Longest a transaction may stay open.'),
  DB_CONNECT_TIMEOUT_MS: setting(DATABASE, z.coerce.number().int().min(100).max(120_000).default(5_000),
    'Wait for a pooled connection; an unreachable database fails fast with a retryable error and `/readyz` turns 503.'),
  AUTH_JWT_SECRET: setting(AUTH, optionalString, 'HS256 secret bearer tokens are verified with.', 'generated into `DATA_DIR` in development; required in production (or `AUTH_JWKS_URL`)'),
  AUTH_JWKS_URL: setting(AUTH, optionalString, 'Verify RS256/ES256 tokens against this JSON Web Key Set instead of `AUTH_JWT_SECRET`.', 'unset'),
  AUTH_ISSUER: setting(AUTH, optionalString, 'Required `iss` claim, when set.', 'unset'),
  AUTH_AUDIENCE: setting(AUTH, optionalString, 'Required `aud` claim, when set.', 'unset'),
  DB_ENCRYPTION_KEY: setting(AUTH, optionalString,
    'AES-256-GCM key for stored secrets: 32 random bytes, base64 (`openssl rand -base64 32`).', 'generated into `DATA_DIR` in development; required in production'),
  DB_ENCRYPTION_KEYS_PREVIOUS: setting(AUTH, optionalString,
    'Comma-separated older keys that still decrypt, while `npm run cli -- reencrypt` moves stored secrets to the current key.', 'unset'),
  DISCOVERY_DENY_PRIVATE_NETWORKS: setting(DISCOVERY, boolFromEnv.default(false),
    "Also refuse private, loopback and reserved addresses (anything but global unicast) for outbound requests. Link-local, unspecified and every cloud's metadata addresses are always refused, in every spelling."),
  DISCOVERY_VALIDATE_TIMEOUT_MS: setting(DISCOVERY, z.coerce.number().int().min(10).max(120_000).default(10_000),
    'How long a provider may take to answer its model list for `validateCustomProvider`.'),
  DISCOVERY_REFRESH_TIMEOUT_MS: setting(DISCOVERY, z.coerce.number().int().min(10).max(300_000).default(30_000),
    'How long a provider may take to answer its model list for `refreshCustomProvider`.'),
  PLATFORM_CATALOG_FILE: setting(DISCOVERY, optionalString, 'Platform models seeded at startup.', 'the shipped file'),
  MAX_QUERY_DEPTH: setting(LIMITS, z.coerce.number().int().min(1).max(100).default(12), 'Selection depth, fragments expanded (introspection excluded).'),
  MAX_QUERY_ALIASES: setting(LIMITS, z.coerce.number().int().min(0).max(1000).default(15), 'Aliases per operation.'),
  MAX_QUERY_DIRECTIVES: setting(LIMITS, z.coerce.number().int().min(0).max(1000).default(10), 'Directives per operation.'),
  MAX_QUERY_TOKENS: setting(LIMITS, z.coerce.number().int().min(10).max(1_000_000).default(3000), 'Lexical tokens per document.'),
  MAX_EXPANDED_FIELDS: setting(LIMITS, z.coerce.number().int().min(1).max(10_000_000).default(20_000),
    "Fields an operation selects once its fragments are expanded (every spread counts its fragment's fields again), so that a small document spreading fragments repeatedly cannot stand for exponentially many fields."),
  MAX_QUERY_COST: setting(LIMITS, z.coerce.number().int().min(1).max(10_000_000).default(25_000),
    'Cost of an operation: every field 1, or the number of items of its list arguments; connections multiply their children by `first`/`last` (default 50), so nested lists multiply.'),
  MAX_REQUEST_BYTES: setting(LIMITS, z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(2 * 1024 * 1024),
    'Request body size (413 above it; a `Content-Length` is required) and WebSocket message size.'),
  MAX_VARIABLES_BYTES: setting(LIMITS, z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
    'The variables of one operation, as JSON (and at most 64 levels deep), whatever the transport.'),
  MAX_STRING_LENGTH: setting(LIMITS, z.coerce.number().int().min(16).max(1_000_000).default(4096),
    'Characters of any string argument or input field without a bound of its own.'),
  MAX_JSON_DEPTH: setting(LIMITS, z.coerce.number().int().min(1).max(50).default(10), 'Nesting of a `JSONObject` input.'),
  MAX_JSON_BYTES: setting(LIMITS, z.coerce.number().int().min(64).max(10 * 1024 * 1024).default(64 * 1024), 'Size of a `JSONObject` input, as JSON.'),
  MAX_BATCH_OPERATIONS: setting(LIMITS, z.coerce.number().int().min(0).max(100).default(0), 'Operations per batched request (0: batching off).'),
  INTROSPECTION: setting(LIMITS, z.enum(['public', 'authenticated', 'disabled']).optional(),
    'Who may introspect the schema and read `GET /schema.graphql`.', '`public` in development, else `authenticated`'),
  RATE_LIMIT_POINTS: setting(LIMITS, z.coerce.number().int().min(0).max(1_000_000).default(600),
    'Requests per actor (organization + token subject) per window; `RATE_LIMITED` with `retryAfter` and HTTP 429 beyond; 0 disables.'),
  RATE_LIMIT_WINDOW_SECONDS: setting(LIMITS, z.coerce.number().int().min(1).max(86_400).default(60), 'The rate limit window.'),
  REDIS_URL: setting(LIMITS, optionalString,
    'Share rate-limit budgets across instances through Redis; the service connects before it serves, waiting at most 10 s (a Redis that is down leaves each instance a budget of its own until it is back).',
    'unset'),
  REQUEST_TIMEOUT_MS: setting(LIMITS, z.coerce.number().int().min(100).max(600_000).default(60_000), 'Deadline of one operation.'),
  CHANGE_FEED_RETENTION_HOURS: setting(FEED, z.coerce.number().positive().max(24 * 366).default(168),
    'How long change events are kept; older cursors answer `CURSOR_EXPIRED`.'),
  CHANGE_FEED_POLL_MS: setting(FEED, z.coerce.number().int().min(100).max(600_000).default(10_000),
    'Safety-net poll of the change feed while notifications arrive (every 500 ms while the notification connection is down).'),
  MAX_SUBSCRIPTIONS: setting(FEED, z.coerce.number().int().min(0).max(1_000_000).default(10_000),
    'Open subscriptions per instance; `RATE_LIMITED` beyond, the open ones unaffected.'),
  MAX_SUBSCRIPTIONS_PER_ACTOR: setting(FEED, z.coerce.number().int().min(0).max(10_000).default(20),
    'Open subscriptions per organization + token subject; `RATE_LIMITED` beyond.'),
  RESPONSE_CACHE_MAX_BYTES: setting(LIMITS, z.coerce.number().int().min(0).max(4 * 1024 ** 3).default(32 * 1024 * 1024),
    'Memory for cached answers to repeated queries, least recently used out first; `0` turns the cache off.'),
  METRICS_ENABLED: setting(OBSERVABILITY, boolFromEnv.default(true), 'Serve Prometheus metrics at `GET /metrics`; `false` measures nothing.'),
  METRICS_TOKEN: setting(OBSERVABILITY, optionalString.pipe(z.string().min(16).max(1000).optional()),
    'When set (16–1000 characters), `/metrics` answers only `Authorization: Bearer <token>`.', 'unset'),
  METRICS_MAX_OPERATION_NAMES: setting(OBSERVABILITY, z.coerce.number().int().min(0).max(10_000).default(100),
    'Operation names of authenticated requests that become metric label values; the rest share `(other)`.'),
  OTEL_EXPORTER_OTLP_ENDPOINT: setting(OBSERVABILITY, optionalString,
    "Turns tracing on: the OTLP/HTTP collector's base URL, e.g. `http://collector:4318`. The SDK's other standard `OTEL_*` variables apply too.",
    'unset'),
  PERSISTED_DOCUMENTS: setting(TRUSTED, z.enum(['off', 'allow', 'require']).optional(),
    '`off`: document text only; `allow`: text or the id of a manifest document; `require`: user tokens may only send ids, service tokens may still send text. `allow` and `require` need the manifest.',
    '`off`; `allow` when `PERSISTED_DOCUMENTS_FILE` is set'),
  PERSISTED_DOCUMENTS_FILE: setting(TRUSTED, optionalString,
    "The frontend's trusted-documents manifest `{ \"<sha256 hex>\": \"<document>\" }`, verified at startup.", 'unset'),
  WEBHOOK_TIMEOUT_MS: setting(WEBHOOKS, z.coerce.number().int().min(100).max(120_000).default(15_000),
    'Longest an attempt may take, connection and answer included; longer is a failure.'),
  WEBHOOK_RETRY_SCHEDULE: setting(WEBHOOKS, z.string().default('5s,5m,30m,2h,5h,10h,14h,20h,24h').pipe(delayList),
    'The delays before each retry of a failed delivery (units ms, s, m, h, d; at most 50, each at most 30d); after the last one it is FAILED. A 429 or 503 with `Retry-After` waits longer when it asks to.'),
  WEBHOOK_DISABLE_AFTER_HOURS: setting(WEBHOOKS, z.coerce.number().positive().max(24 * 366).default(120),
    'An endpoint without a success for this long while its deliveries fail is disabled (`FAILING`).'),
  WEBHOOK_SECRET_OVERLAP_HOURS: setting(WEBHOOKS, z.coerce.number().min(0).max(24 * 31).default(24),
    'How long the previous secret still signs (beside the new one) after `rotateWebhookSecret`.'),
  WEBHOOK_ALLOW_HTTP: setting(WEBHOOKS, boolFromEnv.default(false),
    'Allow `http://` webhook URLs in production (`https` only otherwise; other environments allow both).'),
  WEBHOOK_LEASE_MS: setting(WEBHOOKS, z.coerce.number().int().min(500).max(3_600_000).default(60_000),
    'How long an instance holds the deliveries it claimed; another instance retries them once it ends (after a crash). Must exceed `WEBHOOK_TIMEOUT_MS` by at least 1000.'),
  WEBHOOK_CONCURRENCY: setting(WEBHOOKS, z.coerce.number().int().min(1).max(1_000).default(16),
    "Endpoints one instance delivers to at once (each endpoint's first attempts go one after another, in feed order)."),
  WEBHOOK_DISPATCHER: setting(WEBHOOKS, boolFromEnv.default(true),
    'Whether this instance delivers webhooks; every instance may, and they share the work through leases.'),
}).superRefine((config, issues) => {
  // An attempt must end within the lease, or a second instance could start one beside it.
  if (config.WEBHOOK_LEASE_MS < config.WEBHOOK_TIMEOUT_MS + 1_000) {
    issues.addIssue({ code: 'custom', path: ['WEBHOOK_LEASE_MS'], message: 'must exceed WEBHOOK_TIMEOUT_MS by at least 1000' });
  }
  // Without a manifest there is nothing to allow or require: saying so beats a service that refuses every user.
  if (config.PERSISTED_DOCUMENTS && config.PERSISTED_DOCUMENTS !== 'off' && !config.PERSISTED_DOCUMENTS_FILE) {
    issues.addIssue({
      code: 'custom',
      path: ['PERSISTED_DOCUMENTS'],
      message: `${config.PERSISTED_DOCUMENTS} needs a manifest: set PERSISTED_DOCUMENTS_FILE`,
    });
  }
});

export type Config = z.infer<typeof envSchema>;

/** The settings' schema, for the generated reference (scripts/configuration-docs.ts). */
export const settingsSchema = envSchema;

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
