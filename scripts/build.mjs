// Bundles the service's own code (src/, including the generated Prisma client) into
// dist/main.mjs; packages stay in node_modules. Running plain JavaScript spares the
// server the TypeScript loader: no loader thread, no transformed sources kept in
// memory (about 100 MiB less resident memory under load). What main.ts imports
// dynamically (the server, tracing) goes into chunks beside it that load only when
// imported, so tracing can start before the server's packages load and costs nothing
// when it is off. An argument names another entry file, its chunks beside it (tests
// that run several builds at once give each a directory of its own).
import path from 'node:path';
import { build } from 'esbuild';

const entry = process.argv[2] ?? 'dist/main.mjs';
await build({
  entryPoints: ['src/main.ts'],
  outdir: path.dirname(entry),
  entryNames: path.basename(entry, '.mjs'),
  chunkNames: '[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node24',
  logLevel: 'warning',
});
