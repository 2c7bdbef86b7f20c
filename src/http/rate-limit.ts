import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Principal } from '../security/auth.ts';
import { AppError } from '../graphql/errors.ts';

export interface RateLimiter {
  /** Spends one request of the actor's budget; RATE_LIMITED when it is used up. */
  consume(principal: Principal): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fixed-window budget per actor (organization + subject). In memory by default;
 * in Redis when REDIS_URL is set so that several instances share it, with the
 * in-memory limiter as insurance while Redis is unreachable.
 */
export async function createRateLimiter(config: Config, logger: Logger, metrics?: Metrics): Promise<RateLimiter> {
  if (config.RATE_LIMIT_POINTS === 0) return { consume: async () => {}, close: async () => {} };
  const options = { points: config.RATE_LIMIT_POINTS, duration: config.RATE_LIMIT_WINDOW_SECONDS, keyPrefix: 'mcp-rl' };
  let redis: Redis | undefined;
  let limiter: RateLimiterAbstract;
  if (config.REDIS_URL) {
    // Loaded only when configured, so deployments without Redis do not carry the client.
    const { Redis: RedisClient } = await import('ioredis');
    redis = new RedisClient(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', (error) => logger.warn({ err: error }, 'rate limiter: redis error, using in-memory budget'));
    // Serving before the connection is ready would count the first requests in this
    // instance's memory only. A refused connection delays the start by nothing, an
    // unanswered one by the client's connect timeout (10 s); the failure is logged by the
    // error handler, the client goes on reconnecting, and the in-memory budget stands in.
    await redis.connect().catch(() => {});
    limiter = new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) });
  } else {
    limiter = new RateLimiterMemory(options);
  }
  return {
    async consume(principal) {
      const key = `${principal.organizationId ?? '-'}:${principal.subject}`;
      try {
        await limiter.consume(key);
      } catch (result) {
        if (!(result instanceof RateLimiterRes)) throw result;
        metrics?.refused('requests');
        const retryAfter = Math.max(1, Math.ceil(result.msBeforeNext / 1000));
        throw new AppError('RATE_LIMITED', `Too many requests; retry after ${retryAfter} s.`, {
          retryAfter,
          http: { status: 429, headers: { 'Retry-After': String(retryAfter) } },
        });
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}
