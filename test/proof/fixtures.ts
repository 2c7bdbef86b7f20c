import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ok, type TestApp } from '../support/harness.ts';
import { servedSchema } from './schema-walk.ts';

export interface Tenant {
  organizationId: string;
  token: string;
  /** Global IDs of this tenant's objects, by type name. */
  ids: Record<string, string[]>;
  /** Every identifier and name of the tenant, to detect leaks into other tenants' answers. */
  markers: string[];
  secrets: string[];
}

/** An OpenAI-compatible model list on loopback. */
export async function modelServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: [{ id: 'proof-model-a' }, { id: 'proof-model-b' }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const databaseIdOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1]!;

/** One organization with one object of every node type, made through the API. */
export async function buildTenant(t: TestApp, name: string, providerUrl: string): Promise<Tenant> {
  const { id: organizationId, token } = await t.organization(`${name} organization`);
  const call = async (query: string, variables: Record<string, unknown> = {}) =>
    ok(await t.request<Record<string, any>>(query, variables, { token }));
  const apiKey = `sk-proof-${crypto.randomBytes(12).toString('hex')}`;
  const headerValue = `hv-proof-${crypto.randomBytes(12).toString('hex')}`;

  // First, so that the changes below make deliveries for it (the dispatcher does not run here).
  const hook = (await call('mutation($u:String!){createWebhookEndpoint(input:{url:$u}){secret webhookEndpoint{id}}}', { u: `${providerUrl}/hook` }))
    .createWebhookEndpoint;
  const workspace = (await call('mutation($n:String!){createWorkspace(input:{name:$n}){workspace{id}}}', { n: `${name} workspace` }))
    .createWorkspace.workspace.id as string;
  const created = await call(
    'mutation($m:String!){createCatalogEntry(input:{modelName:$m,config:{vertexAi:{vertexModel:$m}}}){catalogEntry{id} modelAccess{id}}}',
    { m: `${name}-vertex-model` },
  );
  const entry = created.createCatalogEntry.catalogEntry.id as string;
  const orgGrant = created.createCatalogEntry.modelAccess.id as string;
  const provider = (await call(
    'mutation($u:String!,$k:String!,$h:String!){createCustomProvider(input:{displayName:"proof provider",baseUrl:$u,apiKey:$k,customHeaders:[{name:"X-Proof",value:$h}]}){customProvider{id}}}',
    { u: providerUrl, k: apiKey, h: headerValue },
  )).createCustomProvider.customProvider.id as string;
  await call('mutation($id:ID!){refreshCustomProvider(input:{id:$id}){upsertedCount}}', { id: provider });
  const workspaceGrant = (await call(
    'mutation($c:ID!,$w:ID){enableModel(input:{catalogEntryId:$c,workspaceId:$w}){modelAccess{id}}}',
    { c: entry, w: workspace },
  )).enableModel.modelAccess.id as string;
  await call('mutation($c:ID!){setDefaultModel(input:{catalogEntryId:$c}){defaultModelSelection{catalogId}}}', { c: entry });
  const aliases = [
    (await call('mutation($t:[ID!]!){setModelAlias(input:{name:"proof",targetIds:$t,description:"proof alias"}){modelAlias{id}}}', { t: [entry] }))
      .setModelAlias.modelAlias.id as string,
    (await call('mutation($t:[ID!]!,$w:ID){setModelAlias(input:{name:"proof",targetIds:$t,workspaceId:$w}){modelAlias{id}}}', { t: [entry], w: workspace }))
      .setModelAlias.modelAlias.id as string,
  ];
  const audit = (await call('{auditEvents(first:1){edges{node{id}}}}')).auditEvents.edges.map((e: { node: { id: string } }) => e.node.id);
  const organization = (await call('{viewer{organization{id}}}')).viewer.organization.id as string;
  const delivery = (await call('{webhookEndpoints{edges{node{deliveries(first:1){edges{node{id}}}}}}}')).webhookEndpoints.edges[0].node.deliveries.edges[0]
    .node.id as string;

  const ids: Record<string, string[]> = {
    Organization: [organization],
    Workspace: [workspace],
    CatalogEntry: [entry],
    CustomProvider: [provider],
    ModelAccess: [orgGrant, workspaceGrant],
    AuditEvent: audit,
    ModelAlias: aliases,
    WebhookEndpoint: [hook.webhookEndpoint.id],
    WebhookDelivery: [delivery],
  };
  // Every Node type must have a fixture, so a type added later cannot go unchecked.
  for (const type of servedSchema.getPossibleTypes(servedSchema.getType('Node') as never)) {
    if (!ids[type.name]?.length) throw new Error(`proof fixtures have no ${type.name}: add one to buildTenant`);
  }
  const all = Object.values(ids).flat();
  return {
    organizationId,
    token,
    ids,
    markers: [...all, ...all.map(databaseIdOf), organizationId, `${name}-vertex-model`, `${name} workspace`],
    secrets: [apiKey, headerValue, hook.secret],
  };
}

/** Everything stored for one organization, to prove an operation changed nothing. */
export async function snapshot(t: TestApp, organizationId: string): Promise<string> {
  const prisma = t.services.database.prisma;
  const where = { organizationId };
  const [workspaces, providers, catalog, grants, settings, audit, aliases, aliasTargets, webhookEndpoints, webhookDeliveries] = await Promise.all([
    prisma.workspace.findMany({ where, orderBy: { id: 'asc' } }),
    prisma.agentCustomProvider.findMany({ where, orderBy: { id: 'asc' } }),
    prisma.agentCatalog.findMany({ where, orderBy: { id: 'asc' } }),
    prisma.agentModelAccess.findMany({ where, orderBy: { id: 'asc' } }),
    prisma.organizationSetting.findMany({ where, orderBy: { id: 'asc' } }),
    prisma.auditEvent.count({ where }),
    prisma.agentModelAlias.findMany({ where, orderBy: { id: 'asc' } }),
    prisma.agentModelAliasTarget.findMany({ where, orderBy: [{ aliasId: 'asc' }, { position: 'asc' }] }),
    prisma.webhookEndpoint.findMany({ where, orderBy: { id: 'asc' } }),
    prisma.webhookDelivery.count({ where }),
  ]);
  return JSON.stringify({ workspaces, providers, catalog, grants, settings, audit, aliases, aliasTargets, webhookEndpoints, webhookDeliveries }, (_k, v) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? String(v) : v,
  );
}
