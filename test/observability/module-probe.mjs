// Loaded into a service process with --import: writes to stderr the first time each
// OpenTelemetry package is resolved, whether by import or require.
import { registerHooks } from 'node:module';

const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('@opentelemetry/') && !seen.has(specifier)) {
      seen.add(specifier);
      process.stderr.write(`loaded ${specifier}\n`);
    }
    return nextResolve(specifier, context);
  },
});
process.stderr.write('module probe active\n');
