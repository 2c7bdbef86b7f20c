import { describe, expect, it } from 'vitest';
import { startTestApp, ok, codes } from '../support/harness.ts';

describe('rate limiting per actor', () => {
  it('answers RATE_LIMITED with retry-after once the budget is spent, per actor', async () => {
    const t = await startTestApp({ RATE_LIMIT_POINTS: '3', RATE_LIMIT_WINDOW_SECONDS: '60' });
    try {
      const org = await t.organization();
      for (let i = 0; i < 3; i++) ok(await t.request('{ viewer { subject } }', {}, { token: org.token }));
      const limited = await t.request('{ viewer { subject } }', {}, { token: org.token });
      expect(limited.status).toBe(429);
      expect(codes(limited)).toEqual(['RATE_LIMITED']);
      expect(limited.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
      // Another actor of the same organization has a budget of its own.
      const other = await t.token({ organizationId: org.id, subject: 'someone-else' });
      ok(await t.request('{ viewer { subject } }', {}, { token: other }));
    } finally {
      await t.close();
    }
  });

  it('shares the budget across instances through Redis', async () => {
    const first = await startTestApp({ RATE_LIMIT_POINTS: '2', REDIS_URL: 'redis://127.0.0.1:6379' });
    const second = await startTestApp({ RATE_LIMIT_POINTS: '2', REDIS_URL: 'redis://127.0.0.1:6379' });
    try {
      // Same actor (organization id + subject) on two instances: the organization
      // must exist in both databases, so register it in the second one too.
      const org = await first.organization();
      await second.services.database.prisma.$executeRaw`INSERT INTO organization (id, name) VALUES (${org.id}::uuid, 'Org')`;
      ok(await first.request('{ viewer { subject } }', {}, { token: org.token }));
      ok(await second.request('{ viewer { subject } }', {}, { token: org.token }));
      expect(codes(await first.request('{ viewer { subject } }', {}, { token: org.token }))).toEqual(['RATE_LIMITED']);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('starts with Redis unreachable and still enforces the budget, in memory', async () => {
    // Nothing listens on port 1: every connection is refused at once.
    const t = await startTestApp({ RATE_LIMIT_POINTS: '2', REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const org = await t.organization();
      for (let i = 0; i < 2; i++) ok(await t.request('{ viewer { subject } }', {}, { token: org.token }));
      expect(codes(await t.request('{ viewer { subject } }', {}, { token: org.token }))).toEqual(['RATE_LIMITED']);
    } finally {
      await t.close();
    }
  });
});
