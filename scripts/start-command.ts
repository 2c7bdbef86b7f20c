import fs from 'node:fs';
import path from 'node:path';

export interface StartCommand {
  /** Variables the script sets before `node` (`NAME=value` words). */
  env: Record<string, string>;
  /** The arguments given to node. */
  args: string[];
}

/**
 * package.json's `start` script (`[NAME=value …] node <arguments>`), so that tests and
 * benchmarks run the service exactly as `npm start` does, as one process.
 */
export function startCommand(root: string): StartCommand {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    const [name, value] = words.shift()!.split(/=(.*)/s) as [string, string];
    env[name] = value;
  }
  const [command, ...args] = words;
  if (command !== 'node') throw new Error(`npm start is expected to run node, not: ${scripts.start}`);
  return { env, args };
}
