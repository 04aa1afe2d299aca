import { pino } from 'pino';
import { redactUrls } from '../domain/redact-urls.js';

/** How deep log fields are searched for URLs with credentials (an error's cause chain, details). */
const MAX_DEPTH = 6;

/**
 * The root logger: pino JSON to stdout (or `destination`). Secrets are kept out twice: by path
 * (`redact`: authorization headers, keys, tokens), and by content: every string in a log line (the
 * message, fields, an error's message, stack, cause chain and details) has the credentials of any URL
 * in it removed (`redactUrls`), so a remote URL carrying a token can never be printed, whichever error
 * message repeats it.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'regent' },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.privateKey', '*.secret', '*.token', 'signing.privateKey'], censor: '[redacted]' },
    serializers: { err: (error: unknown) => redactStrings(serializeError(error), 0) },
    formatters: { log: (fields) => redactStrings(fields, 0) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactUrls(arg) : arg)) as Parameters<pino.LogFn>);
      },
    },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  // Child bindings skip `formatters.log`; children inherit this `child` (pino children are prototype copies).
  type Child = (this: pino.Logger, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) => pino.Logger;
  const child = logger.child as unknown as Child;
  const redactingChild: Child = function (bindings, childOptions) {
    return child.call(this, redactStrings(bindings, 0) as pino.Bindings, childOptions);
  };
  logger.child = redactingChild as unknown as typeof logger.child;
  return logger;
}

/** pino's error serializer (message, stack, `caused by`, own fields), as a plain object. */
function serializeError(error: unknown): Record<string, unknown> | unknown {
  if (!(error instanceof Error)) return error;
  return { ...(pino.stdSerializers.err(error) as unknown as Record<string, unknown>) };
}

/** `value` with URL credentials removed from every string in it, copying only what changes. */
function redactStrings(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactUrls(value);
  if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => redactStrings(item, depth + 1));
    return items.some((item, index) => item !== value[index]) ? items : value;
  }
  if (value instanceof Error) return redactStrings(serializeError(value), depth);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const redacted = redactStrings(field, depth + 1);
    if (redacted !== field) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = redacted;
    }
  }
  return copy ?? value;
}
