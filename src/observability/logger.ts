import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Anything that could carry a secret is redacted by path as a
 * second line of defence; the code never logs secrets on purpose.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
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
