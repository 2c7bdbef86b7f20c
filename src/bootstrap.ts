import type { Config } from './config.ts';
import type { Logger } from './observability/logger.ts';
import { openDatabase } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { createTokenVerifier } from './security/auth.ts';
import { TenantDirectory } from './modules/tenancy/directory.ts';
import { SecretBox } from './security/crypto.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import { PLATFORM_MODELS_FILE, seedPlatformCatalog } from './modules/catalog/platform.ts';
import { ChangeFeed } from './modules/changes/hub.ts';
import { Metrics } from './observability/metrics.ts';
import { WebhookDispatcher } from './modules/webhooks/dispatcher.ts';
import { loadTrustedDocuments } from './http/trusted-documents.ts';
import { schema } from './schema.ts';
import type { Services } from './services.ts';

/**
 * Opens the database, applies migrations and builds the process-wide services.
 * Shared by the server, the CLI and the tests.
 */
export async function startServices(
  config: Config,
  logger: Logger,
  options: { onQuery?: (sql: string) => void } = {},
): Promise<Services> {
  if (!config.DB_ENCRYPTION_KEY) throw new Error('DB_ENCRYPTION_KEY is not set');
  const secretBox = SecretBox.fromConfig(config.DB_ENCRYPTION_KEY, config.DB_ENCRYPTION_KEYS_PREVIOUS);
  // Before the database opens: a bad manifest stops startup at once.
  const trustedDocuments = loadTrustedDocuments(config, schema);
  const metrics = config.METRICS_ENABLED ? new Metrics() : undefined;
  const database = await openDatabase({
    onTransactionEnd: metrics && ((scope, outcome, seconds) => metrics.transactionEnded(scope, outcome, seconds)),
    onQuery: options.onQuery,
    databaseUrl: config.DATABASE_URL,
    listenUrl: config.DATABASE_LISTEN_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    limits: {
      statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
      transactionTimeoutMs: config.DB_TRANSACTION_TIMEOUT_MS,
      maxWaitMs: config.DB_CONNECT_TIMEOUT_MS,
    },
  });
  try {
    const { applied } = await migrate(database);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    await seedPlatformCatalog(database.prisma, config.PLATFORM_CATALOG_FILE ?? PLATFORM_MODELS_FILE, logger);
    const services: Services = {
      config,
      database,
      logger,
      verifyToken: createTokenVerifier({
        jwtSecret: config.AUTH_JWT_SECRET,
        jwksUrl: config.AUTH_JWKS_URL,
        issuer: config.AUTH_ISSUER,
        audience: config.AUTH_AUDIENCE,
      }),
      tenants: new TenantDirectory(database),
      secretBox,
      trustedDocuments,
      rateLimiter: await createRateLimiter(config, logger, metrics),
      changeFeed: new ChangeFeed(
        database,
        logger,
        {
          retentionMs: config.CHANGE_FEED_RETENTION_HOURS * 3_600_000,
          maxSubscriptions: config.MAX_SUBSCRIPTIONS,
          maxSubscriptionsPerActor: config.MAX_SUBSCRIPTIONS_PER_ACTOR,
          pollMs: config.CHANGE_FEED_POLL_MS,
          offlinePollMs: 500,
          windowSize: 10_000,
        },
        () => services,
      ),
      webhooks: new WebhookDispatcher(
        database,
        logger,
        secretBox,
        {
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
          disableAfterMs: config.WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000,
          secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP_HOURS * 3_600_000,
          leaseMs: config.WEBHOOK_LEASE_MS,
          concurrency: config.WEBHOOK_CONCURRENCY,
          denyPrivateNetworks: config.DISCOVERY_DENY_PRIVATE_NETWORKS,
          retentionMs: config.CHANGE_FEED_RETENTION_HOURS * 3_600_000,
        },
        metrics,
      ),
      metrics,
    };
    if (metrics) {
      metrics.watchWebhooks(() => services.webhooks.pending());
      services.changeFeed.onDelivered = (lagMs) => metrics.delivered(lagMs);
      metrics.watchSubscriptions(() => services.changeFeed.openSubscriptions);
      if (database.poolStats) metrics.watchPool(database.poolStats);
    }
    return services;
  } catch (error) {
    await database.close();
    throw error;
  }
}

/** Releases what startServices opened. */
export async function stopServices(services: Services): Promise<void> {
  await services.webhooks.close();
  await services.changeFeed.close();
  await services.rateLimiter.close();
  await services.database.close();
}
