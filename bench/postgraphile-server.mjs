// Baseline (a): PostGraphile v5 with the Amber preset over the same database, served by
// grafserv's node adaptor. Every request runs as role mcp_app with app.current_org_id
// taken from the verified bearer token, so the service's row-level security policies
// decide visibility exactly as for the service (PostGraphile applies pgSettings with
// set_config inside the request's transaction).
//
// Environment: DATABASE_URL, PORT, AUTH_JWT_SECRET; optional PRINT_SCHEMA=1 prints the
// schema and exits.
import http from 'node:http';
import { postgraphile } from 'postgraphile';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { printSchema } from 'postgraphile/graphql';
import { verifyBearer } from './jwt-hs256.mjs';

const { DATABASE_URL, PORT, AUTH_JWT_SECRET } = process.env;
if (!DATABASE_URL || !AUTH_JWT_SECRET || (!PORT && process.env.PRINT_SCHEMA !== '1')) {
  process.stderr.write('postgraphile-server: DATABASE_URL, PORT and AUTH_JWT_SECRET are required\n');
  process.exit(2);
}

/** @type {GraphileConfig.Preset} */
// The connection-filter plugin (graphile-contrib) gives Q1v its provider and capability
// filters: `filter: { modelProvider: { equalTo } , capabilities: { contains } }`.
const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  pgServices: [
    makePgService({
      connectionString: DATABASE_URL,
      schemas: ['public'],
      poolConfig: { max: 10 },
      pgSettings(requestContext) {
        const claims = verifyBearer(requestContext.node?.req?.headers?.authorization, AUTH_JWT_SECRET);
        return { role: 'mcp_app', 'app.current_org_id': claims.org_id };
      },
    }),
  ],
  // Q1v sends `filter: null` for its unfiltered questions, and filters on the
  // capabilities column: a JSONB column without an index of its own, which PostGraphile
  // does not offer to filter by unless told to.
  schema: { connectionFilterAllowNullInput: true, defaultBehavior: '+attribute:filterBy' },
  disablePlugins: ['PgIndexBehaviorsPlugin'],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);

if (process.env.PRINT_SCHEMA === '1') {
  const { schema } = await pgl.getSchemaResult();
  process.stdout.write(printSchema(schema));
  await pgl.release();
  process.exit(0);
}

const serv = pgl.createServ(grafserv);
// grafserv's plain request handler (no websockets needed), behind a tiny router that
// adds the readiness path the bench polls.
const handler = serv.createHandler();
const server = http.createServer((req, res) => {
  if (req.url === '/readyz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  handler(req, res);
});
// Build the schema before reporting ready, so that startup is not measured.
await pgl.getSchemaResult();
server.listen(Number(PORT), '127.0.0.1');

const stop = () => {
  server.close(() => {
    void pgl.release().then(() => process.exit(0));
  });
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
