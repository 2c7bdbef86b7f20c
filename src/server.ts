import crypto from 'node:crypto';
import { createYoga, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import { schema } from './schema.ts';
import { bearerToken } from './auth.ts';
import { RequestDb, type Context } from './context.ts';
import { useErrorCodes } from './error-masking.ts';
import type { Services } from './services.ts';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface AppOptions {
  /** Pre-filled into GraphiQL's headers (development only). */
  graphiqlToken?: string;
}

export type App = YogaServerInstance<Record<string, never>, Context>;

export function createApp(services: Services, options: AppOptions = {}): App {
  const { database, logger } = services;
  return createYoga<Record<string, never>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    logging: logger.child({ component: 'yoga' }),
    maskedErrors: true,
    graphiql: {
      title: 'Model control plane',
      defaultQuery: '{\n  viewer {\n    subject\n    scopes\n    organization { name }\n  }\n}\n',
      ...(options.graphiqlToken ? { headers: JSON.stringify({ Authorization: `Bearer ${options.graphiqlToken}` }) } : {}),
    },
    plugins: [
      useReadinessCheck({ endpoint: '/readyz', check: () => database.ping() }),
      useErrorCodes(),
    ],
    context: async ({ request }) => {
      const offered = request.headers.get('x-request-id');
      const requestId = offered && REQUEST_ID_PATTERN.test(offered) ? offered : crypto.randomUUID();
      const principal = await services.verifyToken(bearerToken(request.headers.get('authorization')));
      await services.tenants.assertActive(principal);
      return {
        requestId,
        principal,
        logger: logger.child({ requestId }),
        services,
        db: new RequestDb(database.prisma, principal),
        loaders: new Map(),
      };
    },
  });
}
