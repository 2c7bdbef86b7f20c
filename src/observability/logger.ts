import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Anything that could carry a secret is redacted by path as a
 * second line of defence; the code never logs secrets on purpose. `mixin` adds fields
 * to every line (with tracing on: the trace id of the request a line belongs to).
 */
export function createLogger(level: string, destination?: pino.DestinationStream, mixin?: () => Record<string, string>): Logger {
  return pino(
    {
      level,
      ...(mixin ? { mixin } : {}),
      base: { service: 'model-control-plane' },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'customHeaders',
          '*.customHeaders',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'req.headers.authorization',
          'token',
          '*.token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
