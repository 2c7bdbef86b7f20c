import fs from 'node:fs';
import path from 'node:path';

/**
 * The node arguments of package.json's `start` script (`node <arguments>`), so that
 * tests and benchmarks run the service exactly as `npm start` does, as one process.
 */
export function startArguments(root: string): string[] {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [command, ...args] = scripts.start.trim().split(/\s+/);
  if (command !== 'node') throw new Error(`npm start is expected to run node, not: ${scripts.start}`);
  return args;
}
