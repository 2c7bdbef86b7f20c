// Bundles the service's own code (src/, including the generated Prisma client) into
// dist/main.mjs; packages stay in node_modules. Running plain JavaScript spares the
// server the TypeScript loader: no loader thread, no transformed sources kept in
// memory (about 100 MiB less resident memory under load). What main.ts imports
// dynamically (the server, tracing) goes into chunks beside it that load only when
// imported, so tracing can start before the server's packages load and costs nothing
// when it is off. Chunks of earlier builds are removed. An argument names another
// entry file, its chunks beside it (tests that run several builds at once give each
// a directory of its own).
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const entry = process.argv[2] ?? 'dist/main.mjs';
const outdir = path.dirname(entry);
const { metafile } = await build({
  entryPoints: ['src/main.ts'],
  outdir,
  entryNames: path.basename(entry, '.mjs'),
  chunkNames: '[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  metafile: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node24',
  logLevel: 'warning',
});
const built = new Set(Object.keys(metafile.outputs).map((output) => path.resolve(output)));
for (const name of fs.readdirSync(outdir)) {
  const file = path.resolve(outdir, name);
  if (name.endsWith('.mjs') && !built.has(file)) fs.rmSync(file, { force: true });
}
