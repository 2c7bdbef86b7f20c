// Prints the schema built from the code into schema.graphql (or checks it with --check).
import fs from 'node:fs';
import { printSchema } from '../src/schema.ts';

const file = new URL('../schema.graphql', import.meta.url);
const printed = printSchema();
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== printed) {
    console.error('schema.graphql is stale: run `npm run schema`');
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, printed);
}
