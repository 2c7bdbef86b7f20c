import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import type { Logger } from './observability/logger.ts';
import type { TokenVerifier } from './security/auth.ts';
import type { TenantDirectory } from './modules/tenancy/directory.ts';
import type { SecretBox } from './security/crypto.ts';
import type { RateLimiter } from './http/rate-limit.ts';
import type { ChangeFeed } from './modules/changes/hub.ts';
import type { Metrics } from './observability/metrics.ts';
import type { TrustedDocuments } from './http/trusted-documents.ts';
import type { WebhookDispatcher } from './modules/webhooks/dispatcher.ts';

/** Process-wide dependencies, built once at startup and shared by every request. */
export interface Services {
  config: Config;
  database: Database;
  logger: Logger;
  verifyToken: TokenVerifier;
  tenants: TenantDirectory;
  secretBox: SecretBox;
  /** The frontend's manifest and PERSISTED_DOCUMENTS (http/trusted-documents.ts). */
  trustedDocuments: TrustedDocuments;
  rateLimiter: RateLimiter;
  changeFeed: ChangeFeed;
  /** Delivers the webhook outbox; started by the server (serve.ts), not by the CLI. */
  webhooks: WebhookDispatcher;
  /** Absent when METRICS_ENABLED=false: nothing is measured then. */
  metrics?: Metrics;
}
