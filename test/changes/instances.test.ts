import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { postData as post, startServiceProcess, type ServiceProcess } from '../support/service-process.ts';
import { mintToken } from '../../src/security/tokens.ts';
import { subscribeSse, type SeenEvent } from './feed-client.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);
const SECRET = crypto.randomBytes(32).toString('base64');

let database: TestDatabase;
let instances: ServiceProcess[] = [];

const EVENT_FIELDS = 'cursor action subjectType subjectId workspaceId catalogEntryId actorSubject occurredAt';

async function readAll(url: string, token: string, after: string): Promise<SeenEvent[]> {
  const events: SeenEvent[] = [];
  let cursor = after;
  for (;;) {
    const page = (
      await post(url, token, `query($after: String) { changeEvents(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { ${EVENT_FIELDS} } } } }`, {
        after: cursor,
      })
    ).changeEvents;
    events.push(...page.edges.map((edge: { node: SeenEvent }) => edge.node));
    if (!page.pageInfo.hasNextPage) return events;
    cursor = page.pageInfo.endCursor;
  }
}

describe.skipIf(!onPostgres)('two service processes on one database', () => {
  beforeAll(async () => {
    database = await createTestDatabase();
    const env = {
      DATABASE_URL: database.databaseUrl!,
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: SECRET,
      DB_ENCRYPTION_KEY: crypto.randomBytes(32).toString('base64'),
      RATE_LIMIT_POINTS: '0',
      SHUTDOWN_DRAIN_MS: '100',
    };
    instances = [await startServiceProcess(env)];
    instances.push(await startServiceProcess(env));
  }, 120_000);
  afterAll(async () => {
    for (const instance of instances) await instance.stop('SIGKILL');
    await database?.drop();
  });

  it('deliver what commits on the other within a second, once and in order; after SIGTERM a subscriber resumes on the other and loses nothing', async () => {
    const [a, b] = instances as [ServiceProcess, ServiceProcess];
    const admin = await mintToken(SECRET, { subject: 'admin', scopes: ['platform:admin'] });
    const org = (await post(a.url, admin, 'mutation { createOrganization(input: { name: "Two" }) { organization { databaseId } } }')).createOrganization
      .organization.databaseId;
    const token = await mintToken(SECRET, { subject: 'writer', organizationId: org, scopes: ['*'] });
    const head = (await post(a.url, token, '{ changeFeedHead }')).changeFeedHead as string;

    // Subscribed on A; every change made through B.
    const onA = subscribeSse(a.url, token, { after: head, query: `subscription($after: String) { changes(after: $after) { ${EVENT_FIELDS} } }` });
    const lags: number[] = [];
    for (let i = 0; i < 10; i++) {
      await post(b.url, token, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `w${i}` });
      const committed = Date.now();
      await onA.waitFor(i + 1, 5_000);
      lags.push(Date.now() - committed);
    }
    expect(Math.max(...lags)).toBeLessThan(1_000);

    // A shuts down while B keeps committing: the stream completes cleanly, the subscriber
    // resumes on B from the last cursor it received.
    let writing = true;
    const writes = (async () => {
      let n = 0;
      while (writing) {
        await post(b.url, token, 'mutation($n: String!) { createWorkspace(input: { name: $n }) { workspace { id } } }', { n: `later${n++}` });
      }
      return n;
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.stop('SIGTERM');
    await onA.done;
    expect(onA.errors).toEqual([]);
    expect(await a.exited).toBe(0);
    const last = onA.events.at(-1)!.cursor;
    const onB = subscribeSse(b.url, token, { after: last, query: `subscription($after: String) { changes(after: $after) { ${EVENT_FIELDS} } }` });
    await new Promise((resolve) => setTimeout(resolve, 300));
    writing = false;
    const later = await writes;
    const feed = await readAll(b.url, token, head);
    expect(feed).toHaveLength(10 + later);
    const received = [...onA.events, ...(await onB.waitFor(feed.length - onA.events.length, 10_000))];
    expect(received).toEqual(feed);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(onB.events).toHaveLength(feed.length - onA.events.length);
    onB.close();
  }, 120_000);
});
