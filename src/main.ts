import http from 'node:http';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { resolveSecrets } from './secrets.ts';
import { startServices } from './bootstrap.ts';
import { createApp } from './server.ts';
import { ensureDemoTenant } from './modules/tenancy/demo.ts';
import { mintToken } from './tokens.ts';

const SHUTDOWN_GRACE_MS = 15_000;

async function main() {
  const baseConfig = loadConfig();
  const logger = createLogger(baseConfig.LOG_LEVEL);
  const config = resolveSecrets(baseConfig, logger);
  const services = await startServices(config, logger);

  let graphiqlToken: string | undefined;
  if (config.NODE_ENV !== 'production' && config.AUTH_JWT_SECRET) {
    const organization = await ensureDemoTenant(services);
    graphiqlToken = await mintToken(config.AUTH_JWT_SECRET, {
      subject: 'dev-admin',
      organizationId: organization.id,
      scopes: ['*'],
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    });
  }

  const app = createApp(services, { graphiqlToken });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://localhost:${port}/graphql`;
  logger.info({ url, database: services.database.kind }, 'model control plane listening');
  if (graphiqlToken) {
    // Printed plainly, not logged: it is meant for the person starting the server.
    process.stdout.write(
      `\nGraphiQL: ${url}  (the token below is pre-filled there)\nDevelopment admin token (12 h, all scopes):\n${graphiqlToken}\n\n`,
    );
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing accepted requests');
    const force = setTimeout(() => {
      logger.warn('shutdown grace period over; closing remaining connections');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      void services.database.close().then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'error while closing the database');
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Startup failed: ${(error as Error).message}\n`);
  process.exit(1);
});
