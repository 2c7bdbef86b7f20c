import crypto from 'node:crypto';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { createCounter, createHistogram, usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import { ERROR_CODES, errorCodeOf } from '../graphql/errors.ts';
import type { Metrics } from '../observability/metrics.ts';

export const METRICS_PATH = '/metrics';

/** Longer names are not worth a label value of their own. */
const MAX_LABELLED_NAME_LENGTH = 100;
const ANONYMOUS = '(anonymous)';
const OTHER = '(other)';

/**
 * Operation names as label values. Clients choose them, so a name becomes a label value
 * only once an operation of that name has reached execution (parsed, valid,
 * authenticated, within the limits), and only the first `max` names do; every other
 * name shares `(other)`, and unnamed operations and every request without credentials
 * (anonymous introspection) `(anonymous)` (neither is a GraphQL name).
 */
export class OperationNames {
  readonly #admitted = new Set<string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  admit(name: string | undefined, request: Request | undefined): void {
    if (anonymous(request)) return;
    if (name && name.length <= MAX_LABELLED_NAME_LENGTH && this.#admitted.size < this.#max) this.#admitted.add(name);
  }

  label(name: string | undefined, request: Request | undefined): string {
    if (!name || anonymous(request)) return ANONYMOUS;
    return this.#admitted.has(name) ? name : OTHER;
  }
}

/**
 * A request without credentials: with INTROSPECTION=public it runs as the anonymous
 * caller, so anyone could otherwise fill the label budget with names of their choosing.
 * A request that sends a token runs only once the token verified.
 */
function anonymous(request: Request | undefined): boolean {
  return request !== undefined && !request.headers.has('authorization');
}

const LABELLED_CODES = new Set<string>([...ERROR_CODES, 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']);

/** The contract code of a failed phase: parse and validation failures carry none yet. */
function codeLabel(params: FillLabelsFnParams): string {
  if (params.errorPhase === 'parse') return 'GRAPHQL_PARSE_FAILED';
  if (params.errorPhase === 'validate') return 'GRAPHQL_VALIDATION_FAILED';
  const code = errorCodeOf(params.error);
  return LABELLED_CODES.has(code) ? code : 'INTERNAL_SERVER_ERROR';
}

/**
 * `GET /metrics`: Prometheus text, answered before anything GraphQL (authentication,
 * rate limits) runs. With a token configured, only `Authorization: Bearer <token>` reads it.
 */
export function useMetricsEndpoint(metrics: Metrics, token: string | undefined): Plugin {
  const expected = token === undefined ? undefined : crypto.createHash('sha256').update(token).digest();
  const authorized = (header: string | null) => {
    if (!expected) return true;
    const offered = /^Bearer (.+)$/i.exec(header ?? '')?.[1];
    return offered !== undefined && crypto.timingSafeEqual(crypto.createHash('sha256').update(offered).digest(), expected);
  };
  return {
    onRequest({ url, request, fetchAPI, endResponse }) {
      if (url.pathname !== METRICS_PATH) return;
      if (request.method !== 'GET') return endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET' } }));
      if (!authorized(request.headers.get('authorization'))) {
        return endResponse(new fetchAPI.Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer' } }));
      }
      return metrics.text().then((text) => endResponse(new fetchAPI.Response(text, { headers: { 'content-type': metrics.contentType } })));
    },
  };
}

export interface GraphQLMetrics {
  /** Yoga's Prometheus plugin; placed right after the plugin that gives errors their codes, so they are counted by the code the client receives. */
  recording: Plugin;
  /** Admits operation names as label values; placed last, so only operations that passed every check before execution are admitted. */
  admission: Plugin;
}

/**
 * The GraphQL figures (yoga's Prometheus plugin): HTTP requests, parse, validate and
 * execute durations, operations and errors by code, labelled by operation type and a
 * bounded operation name (OperationNames).
 */
export function graphQLMetrics(metrics: Metrics, maxOperationNames: number): GraphQLMetrics {
  const names = new OperationNames(maxOperationNames);
  const { registry } = metrics;
  const operation = (params: FillLabelsFnParams, context: { params?: { operationName?: string }; request?: Request } | undefined) => {
    const definition = params.document && getOperationAST(params.document, context?.params?.operationName);
    return { operationName: names.label(definition?.name?.value, context?.request), operationType: definition?.operation ?? 'unknown' };
  };
  const phase = <Phase extends string>(phase: Phase, help: string) =>
    createHistogram({
      registry,
      histogram: { name: `graphql_envelop_phase_${phase}`, help, labelNames: ['operationName', 'operationType'] },
      fillLabelsFn: operation,
      phases: [phase],
    });
  return {
    recording: usePrometheus({
      registry,
      endpoint: false,
      metrics: {
        graphql_yoga_http_duration: createHistogram({
          registry,
          histogram: {
            name: 'graphql_yoga_http_duration',
            help: 'GraphQL HTTP requests, from receiving to answering, by operation and status code',
            labelNames: ['operationName', 'operationType', 'statusCode'],
          },
          fillLabelsFn: (params, { request, response }) => ({
            operationName: names.label(params.operationName, request as Request),
            operationType: params.operationType ?? 'unknown',
            statusCode: (response as Response).status,
          }),
        }),
        graphql_envelop_phase_parse: phase('parse', 'Time spent parsing operations'),
        graphql_envelop_phase_validate: phase('validate', 'Time spent validating operations'),
        graphql_envelop_phase_execute: phase('execute', 'Time spent executing operations'),
        graphql_envelop_phase_subscribe: phase('subscribe', 'Time spent starting subscriptions'),
        graphql_envelop_request: createCounter({
          registry,
          counter: { name: 'graphql_envelop_request', help: 'Operations executed', labelNames: ['operationName', 'operationType'] },
          fillLabelsFn: operation,
        }),
        graphql_envelop_error_result: createCounter({
          registry,
          counter: {
            name: 'graphql_envelop_error_result',
            help: 'Errors answered, by the phase that failed and the error code',
            labelNames: ['operationName', 'operationType', 'phase', 'code'],
          },
          fillLabelsFn: (params, context) => ({ ...operation(params, context), phase: params.errorPhase ?? 'execute', code: codeLabel(params) }),
        }),
        graphql_envelop_request_duration: false,
        graphql_envelop_request_time_summary: false,
        graphql_envelop_phase_context: false,
        graphql_envelop_deprecated_field: false,
        graphql_envelop_schema_change: false,
        graphql_envelop_execute_resolver: false,
      },
    }),
    admission: {
      onExecute({ args }) {
        names.admit(getOperationAST(args.document, args.operationName)?.name?.value, (args.contextValue as { request?: Request }).request);
      },
      onSubscribe({ args }) {
        names.admit(getOperationAST(args.document, args.operationName)?.name?.value, (args.contextValue as { request?: Request }).request);
      },
    },
  };
}
