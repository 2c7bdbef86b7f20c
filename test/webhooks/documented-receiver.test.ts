// The receiver of docs/integrating.md ("Webhooks"), run as written: it verifies, drops repeats and
// applies each subject's events in feed order.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../scripts/free-port.ts';
import { ok, startTestApp, type TestApp } from '../support/harness.ts';

let app: TestApp;
const file = path.join(import.meta.dirname, `.documented-receiver-${process.pid}.mjs`);

beforeAll(async () => {
  app = await startTestApp({ WEBHOOK_RETRY_SCHEDULE: '200ms', WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_LEASE_MS: '5000' });
  await app.services.webhooks.start();
}, 60_000);
afterAll(async () => {
  fs.rmSync(file, { force: true });
  await app?.close();
});

it('the documented receiver verifies every delivery, drops a repeat and applies each subject in feed order', async () => {
  const page = fs.readFileSync(path.join(import.meta.dirname, '../../docs/integrating.md'), 'utf8');
  const section = page.slice(page.indexOf('## Webhooks'));
  const code = /```js\n([\s\S]*?)```/.exec(section)![1]!;
  expect(code).toContain("from 'standardwebhooks'");
  const org = await app.organization('Readme');
  const port = await freePort();
  const created = ok(
    await app.request<any>('mutation($url: String!) { createWebhookEndpoint(input: { url: $url }) { secret webhookEndpoint { id } } }', {
      url: `http://127.0.0.1:${port}/`,
    }, { token: org.token }),
  ).createWebhookEndpoint;
  const applied: { type: string; subjectId: string }[] = [];
  (globalThis as Record<string, unknown>).refetch = async (event: { type: string; data: { subjectId: string } }) => {
    applied.push({ type: event.type, subjectId: event.data.subjectId });
  };
  process.env.WEBHOOK_SECRET = created.secret;
  fs.writeFileSync(file, `${code.replace('.listen(8080)', `.listen(${port}, '127.0.0.1')`)}\n`);
  await import(file);

  const head = ok(await app.request<any>('{ changeFeedHead }', {}, { token: org.token })).changeFeedHead;
  const workspace = ok(await app.request<any>('mutation { createWorkspace(input: { name: "readme" }) { workspace { id } } }', {}, { token: org.token }))
    .createWorkspace.workspace.id;
  ok(await app.request<any>('mutation($id: ID!) { deleteWorkspace(input: { id: $id }) { deletedId } }', { id: workspace }, { token: org.token }));
  await expect.poll(() => applied.length, { timeout: 10_000 }).toBe(2);
  // A replay repeats both events with their webhook-ids: nothing is applied twice.
  const replayed = ok(
    await app.request<any>('mutation($id: ID!, $after: String!) { replayWebhookEvents(input: { id: $id, after: $after }) { queuedCount } }', {
      id: created.webhookEndpoint.id,
      after: head,
    }, { token: org.token }),
  );
  expect(replayed.replayWebhookEvents.queuedCount).toBe(2);
  const deliveries = async () =>
    ok(await app.request<any>('{ webhookEndpoints(first: 1) { edges { node { deliveries(first: 10) { edges { node { status lastResponseStatus } } } } } } }', {}, { token: org.token }))
      .webhookEndpoints.edges[0].node.deliveries.edges.map((edge: any) => edge.node);
  await expect.poll(async () => (await deliveries()).filter((d: any) => d.status === 'SUCCEEDED').length, { timeout: 10_000 }).toBe(4);
  expect((await deliveries()).every((d: any) => d.lastResponseStatus === 204)).toBe(true);
  expect(applied).toEqual([
    { type: 'workspace.created', subjectId: workspace },
    { type: 'workspace.deleted', subjectId: workspace },
  ]);
});
