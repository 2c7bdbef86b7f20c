import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopedTransaction } from '../../src/db/scope.ts';
import { startTestApp, ok, type TestApp } from '../support/harness.ts';
import { WorkspacesDocument } from '../generated/graphql.ts';

let t: TestApp;
let org: { id: string; token: string };

beforeAll(async () => {
  t = await startTestApp();
  org = await t.organization();
  await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, async (tx) => {
    for (let i = 0; i < 23; i++) await tx.workspace.create({ data: { organizationId: org.id, name: `same-time-${i}` } });
  });
  for (let i = 0; i < 3; i++) {
    await scopedTransaction(t.services.database.prisma, { kind: 'tenant', organizationId: org.id }, (tx) =>
      tx.workspace.create({ data: { organizationId: org.id, name: `later-${i}` } }),
    );
  }
});
afterAll(() => t.close());

describe('keyset pagination', () => {
  it('walks every row exactly once in both directions over rows sharing created_at', async () => {
    const forward: { databaseId: string; createdAt: string }[] = [];
    let after: string | null | undefined;
    for (;;) {
      const page = ok(await t.request(WorkspacesDocument, { first: 4, after }, { token: org.token })).workspaces;
      expect(page.totalCount).toBe(26);
      forward.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    const backward: typeof forward = [];
    let before: string | null | undefined;
    for (;;) {
      const page = ok(await t.request(WorkspacesDocument, { last: 4, before }, { token: org.token })).workspaces;
      backward.unshift(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasPreviousPage) break;
      before = page.pageInfo.startCursor;
    }
    expect(new Set(forward.map((w) => w.databaseId)).size).toBe(26);
    expect(backward.map((w) => w.databaseId)).toEqual(forward.map((w) => w.databaseId));
    const expected = [...forward].sort((x, y) =>
      x.createdAt === y.createdAt ? (x.databaseId < y.databaseId ? 1 : -1) : x.createdAt < y.createdAt ? 1 : -1,
    );
    expect(forward.map((w) => w.databaseId)).toEqual(expected.map((w) => w.databaseId));
  });

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 101 }, 'first'],
    [{ last: -1 }, 'last'],
    [{ first: 2, last: 2 }, 'first'],
    [{ after: 'garbage!!' }, 'after'],
    [{ after: Buffer.from('{"not":"a list"}').toString('base64url') }, 'after'],
    [{ before: Buffer.from(JSON.stringify(['catalog:created:desc', '2020-01-01T00:00:00.000Z', 'x'])).toString('base64url') }, 'before'],
  ])('refuses %j with BAD_USER_INPUT naming %s', async (variables, argument) => {
    const response = await t.request(WorkspacesDocument, variables, { token: org.token });
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
  });
});
