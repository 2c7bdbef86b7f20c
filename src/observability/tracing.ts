import { SpanKind, trace, type Exception, type TracerProvider } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { useOpenTelemetry } from '@envelop/opentelemetry';
import type { Plugin } from 'graphql-yoga';

export interface Tracing {
  /** GraphQL execution spans, a yoga plugin. */
  graphql: Plugin;
  /** What a log line written within a span carries (a pino mixin): the trace and span ids. */
  logFields(): Record<string, string>;
  /** Exports what is still buffered. */
  shutdown(): Promise<void>;
}

/** Probes and scrapes, which would each make a trace of their own. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);
/** GraphQL over GET: a query's text, variables and extensions can carry argument values. */
const GRAPHQL_QUERY_PARAMETERS = ['query', 'variables', 'extensions'];

/**
 * The GraphQL plugin records an operation's errors as one exception whose message is
 * the errors as JSON. A message can echo an argument value (a variable that did not
 * coerce), so the span keeps only their codes.
 */
function recordingErrorCodesOnly(provider: TracerProvider): TracerProvider {
  const codesOf = (exception: Exception): string => {
    try {
      const errors = JSON.parse(typeof exception === 'string' ? exception : (exception.message ?? '')) as { extensions?: { code?: unknown } }[];
      return errors.map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR')).join(', ');
    } catch {
      return 'INTERNAL_SERVER_ERROR';
    }
  };
  return {
    getTracer(name, version, options) {
      const tracer = provider.getTracer(name, version, options);
      return {
        startSpan(spanName, spanOptions, context) {
          const span = tracer.startSpan(spanName, spanOptions, context);
          const record = span.recordException.bind(span);
          span.recordException = (exception, time) => record({ name: 'GraphQLError', message: codesOf(exception) }, time);
          return span;
        },
        startActiveSpan: tracer.startActiveSpan.bind(tracer),
      };
    },
  };
}

/** Whether an undici request carries `name` among its headers (a raw string or a flat name/value array, by version). */
function hasHeader(request: { headers?: unknown }, name: string): boolean {
  const headers = request.headers;
  if (Array.isArray(headers)) return headers.some((item, index) => index % 2 === 0 && String(item).toLowerCase() === name);
  return typeof headers === 'string' && headers.toLowerCase().split('\r\n').some((line) => line.startsWith(`${name}:`));
}

/**
 * The URL an outbound span records: never a query string, and for a webhook attempt
 * (it carries `webhook-id`) the origin only — webhook URLs often hold a credential in
 * their path (chat services' incoming webhooks).
 */
function outboundUrlAttributes(request: { origin?: unknown; path?: unknown; headers?: unknown }): Record<string, string> {
  const url = new URL(String(request.path ?? '/'), String(request.origin));
  const path = hasHeader(request, 'webhook-id') ? '/' : url.pathname;
  return { 'url.full': `${url.origin}${path}`, 'url.path': path, 'url.query': '' };
}

/**
 * OpenTelemetry tracing, configured by the standard OTEL_* variables (endpoint,
 * OTLP protocol http/protobuf or http/json, headers, sampler, service name): a server
 * span per HTTP request continuing an incoming `traceparent`, GraphQL execution spans,
 * a span per database statement (the `pg` instrumentation on PostgreSQL, with the
 * statement's text and never its parameters; Prisma's statement spans on the embedded
 * database, which has no driver to instrument) and a client span per outbound
 * discovery request, which carries `traceparent`. Only traces are exported unless
 * OTEL_METRICS_EXPORTER or OTEL_LOGS_EXPORTER ask for more (metrics are served at
 * /metrics). Started before the service's other modules are imported (main.ts), so
 * that the instrumentations patch `http` and `pg` as they load.
 */
export function startTracing(options: { postgres: boolean }): Tracing {
  const sdk = new NodeSDK({
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: 'model-control-plane' }),
    ...(process.env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(process.env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0]!),
        redactedQueryParamsServer: GRAPHQL_QUERY_PARAMETERS,
      }),
      new UndiciInstrumentation({ startSpanHook: outboundUrlAttributes }),
      options.postgres
        ? new PgInstrumentation({ requireParentSpan: true })
        : new PrismaInstrumentation({ ignoreSpanTypes: [/^prisma:client:(?!db_query$)/] }),
    ],
  });
  sdk.start();
  return {
    graphql: useOpenTelemetry(
      { resolvers: false, variables: false, result: false, document: false },
      recordingErrorCodesOnly(trace.getTracerProvider()),
      SpanKind.INTERNAL,
    ) as Plugin,
    logFields(): Record<string, string> {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },
    shutdown: () => sdk.shutdown(),
  };
}
