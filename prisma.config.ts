import { defineConfig } from 'prisma/config';

// The CLI is only used for `generate` and, where it can run, `migrate status/deploy`.
// DATABASE_URL is optional: without it the service runs on embedded PGlite.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  ...(process.env.DATABASE_URL ? { datasource: { url: process.env.DATABASE_URL } } : {}),
});
