import { assertSupportedRuntime, loadConfig } from './config.ts';

/**
 * The process entry. With OTEL_EXPORTER_OTLP_ENDPOINT set, tracing starts before the
 * rest of the service is imported, because its instrumentations patch `http` and `pg`
 * as those load; without it, nothing of the OpenTelemetry SDK is loaded at all.
 */
async function main() {
  assertSupportedRuntime();
  const config = loadConfig();
  const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
    ? (await import('./observability/tracing.ts')).startTracing({ postgres: config.DATABASE_URL !== undefined })
    : undefined;
  const { serve } = await import('./serve.ts');
  await serve(config, tracing);
}

main().catch((error: unknown) => {
  process.stderr.write(`Startup failed: ${(error as Error).message}\n`);
  process.exit(1);
});
