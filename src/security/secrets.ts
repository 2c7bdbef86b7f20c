import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';

interface GeneratedSecrets {
  AUTH_JWT_SECRET: string;
  DB_ENCRYPTION_KEY: string;
}

/**
 * Completes the configuration's secrets. In production a missing one stops startup;
 * in development it is generated once and kept in DATA_DIR/secrets.json, so tokens
 * and stored ciphertexts stay valid across restarts.
 */
export function resolveSecrets(config: Config, logger: Logger): Config {
  const missing: string[] = [];
  if (!config.AUTH_JWT_SECRET && !config.AUTH_JWKS_URL) missing.push('AUTH_JWT_SECRET (or AUTH_JWKS_URL)');
  if (!config.DB_ENCRYPTION_KEY) missing.push('DB_ENCRYPTION_KEY');
  if (missing.length === 0) return config;
  if (config.NODE_ENV === 'production') {
    throw new Error(
      `Missing required configuration in production: ${missing.join(', ')}. ` +
        'Generate keys with `openssl rand -base64 32`.',
    );
  }
  const file = path.join(config.DATA_DIR, 'secrets.json');
  let stored: Partial<GeneratedSecrets> = {};
  if (fs.existsSync(file)) stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<GeneratedSecrets>;
  const secrets: GeneratedSecrets = {
    AUTH_JWT_SECRET: stored.AUTH_JWT_SECRET ?? crypto.randomBytes(32).toString('base64'),
    DB_ENCRYPTION_KEY: stored.DB_ENCRYPTION_KEY ?? crypto.randomBytes(32).toString('base64'),
  };
  if (stored.AUTH_JWT_SECRET !== secrets.AUTH_JWT_SECRET || stored.DB_ENCRYPTION_KEY !== secrets.DB_ENCRYPTION_KEY) {
    fs.mkdirSync(config.DATA_DIR, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    logger.warn({ file }, 'development secrets generated; set them explicitly in production');
  }
  return {
    ...config,
    AUTH_JWT_SECRET: config.AUTH_JWT_SECRET ?? (config.AUTH_JWKS_URL ? undefined : secrets.AUTH_JWT_SECRET),
    DB_ENCRYPTION_KEY: config.DB_ENCRYPTION_KEY ?? secrets.DB_ENCRYPTION_KEY,
  };
}
