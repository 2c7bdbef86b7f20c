import http from 'node:http';
import type { Config } from './config.ts';
import { createLogger } from './observability/logger.ts';
import type { Tracing } from './observability/tracing.ts';
import { resolveSecrets } from './security/secrets.ts';
import { startServices, stopServices } from './bootstrap.ts';
import { createApp } from './http/server.ts';
import { attachWebSocket } from './http/websocket.ts';
import { ensureDemoTenant } from './modules/tenancy/demo.ts';
import { mintToken } from './security/tokens.ts';
import { ORGANIZATION_SCOPES } from './security/auth.ts';

/** The server process: services, HTTP and WebSocket, the development tenant, shutdown on SIGTERM. */
export async function serve(baseConfig: Config, tracing?: Tracing): Promise<void> {
  const logger = createLogger(baseConfig.LOG_LEVEL, undefined, tracing?.logFields);
  const config = resolveSecrets(baseConfig, logger);
  const services = await startServices(config, logger);

  let graphiqlToken: string | undefined;
  if (config.NODE_ENV !== 'production' && config.AUTH_JWT_SECRET) {
    const organization = await ensureDemoTenant(services);
    graphiqlToken = await mintToken(config.AUTH_JWT_SECRET, {
      subject: 'dev-admin',
      organizationId: organization.id,
      // Spelled out, not `*`: the demo organization's scopes and never the platform's.
      scopes: [...ORGANIZATION_SCOPES],
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    });
  }

  let stopping = false;
  const app = createApp(services, { graphiqlToken, isDraining: () => stopping, tracing: tracing?.graphql });
  const server = http.createServer(app);
  const websockets = attachWebSocket(server, app, services);
  services.changeFeed.startRetention();
  if (config.WEBHOOK_DISPATCHER) await services.webhooks.start();
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://localhost:${port}/graphql`;
  logger.info({ url, database: services.database.kind, node: process.versions.node }, 'model control plane listening');
  if (graphiqlToken) {
    // Printed plainly, not logged: it is meant for the person starting the server.
    process.stdout.write(
      `\nGraphiQL: ${url}  (the token below is pre-filled there)\nDevelopment admin token (12 h, every scope of the demo organization):\n${graphiqlToken}\n\n`,
    );
  }

  // Shutdown: fail readiness and keep serving for SHUTDOWN_DRAIN_MS (so balancers
  // stop routing here and every connection already queued is read), then complete
  // every subscription (clients resume elsewhere from their last cursor), stop
  // claiming webhook deliveries and finish the attempts in flight (what was claimed and
  // not attempted is released to the other instances), stop accepting, finish
  // in-flight requests, and close the database.
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drainMs: config.SHUTDOWN_DRAIN_MS }, 'shutting down: draining');
    setTimeout(() => void closeServer(), config.SHUTDOWN_DRAIN_MS);
  };
  const closeServer = async () => {
    const force = setTimeout(() => {
      logger.warn('shutdown grace period over; closing remaining connections');
      server.closeAllConnections();
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    await Promise.all([services.changeFeed.close(), services.webhooks.close()]);
    await websockets.close().catch((error: unknown) => logger.warn({ err: error }, 'error while closing WebSocket connections'));
    server.close(() => {
      const flushed = tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not export the last spans'));
      void Promise.all([stopServices(services), flushed]).then(
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
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
