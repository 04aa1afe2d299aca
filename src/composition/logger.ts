import { pino } from 'pino';
import pinoPretty from 'pino-pretty';
import { redactUrls } from '../domain/redact-urls.js';

/** `json`: one JSON object per line (production, log shippers); `pretty`: coloured lines for a terminal. */
export type LogFormat = 'json' | 'pretty';

export interface CreateLoggerOptions {
  level: string;
  format?: LogFormat;
  /** Where lines go (default stdout); `pretty` writes its text here too. */
  destination?: pino.DestinationStream;
  /** Colours in `pretty` format (default: when stdout is a terminal). */
  colorize?: boolean;
}

/** The component of lines logged by the root logger itself (start-up, shutdown). */
export const ROOT_COMPONENT = 'main';
const COMPONENT = Symbol('regent.component');
type WithComponent = pino.Logger & { [COMPONENT]?: string };

/** How deep log fields are searched for URLs with credentials (an error's cause chain, details). */
const MAX_DEPTH = 6;

/**
 * The root logger: pino JSON lines to stdout (or `destination`), or with `format: 'pretty'` the same
 * records as readable lines (pino-pretty, in this process). Every line carries exactly one
 * `component` key: `child({ component })` does not add it as a binding (a grandchild would repeat it)
 * but remembers it, the innermost winning, and every record gets it when written; lines of the root
 * logger say {@link ROOT_COMPONENT}. Secrets are kept out twice: by path
 * (`redact`: authorization headers, keys, tokens), and by content: every string in a log line (the
 * message, fields, an error's message, stack, cause chain and details) has the credentials of any URL
 * in it removed (`redactUrls`), so a remote URL carrying a token can never be printed, whichever error
 * message repeats it.
 */
export function createLogger(settings: CreateLoggerOptions): pino.Logger {
  const options: pino.LoggerOptions = {
    level: settings.level,
    base: { service: 'regent' },
    mixin: (_fields, _level, logger) => ({ component: (logger as WithComponent)[COMPONENT] ?? ROOT_COMPONENT }),
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.privateKey', '*.secret', '*.token', 'signing.privateKey'], censor: '[redacted]' },
    serializers: { err: (error: unknown) => redactStrings(serializeError(error), 0) },
    formatters: { log: (fields) => redactStrings(fields, 0) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactUrls(arg) : arg)) as Parameters<pino.LogFn>);
      },
    },
  };
  const logger = pino(options, outputStream(settings));
  // Child bindings skip `formatters.log`; children inherit this `child` (pino children are prototype copies).
  type Child = (this: WithComponent, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) => pino.Logger;
  const child = logger.child as unknown as Child;
  const redactingChild: Child = function (bindings, childOptions) {
    const { component, ...rest } = bindings;
    const created = child.call(this, redactStrings(rest, 0) as pino.Bindings, childOptions) as WithComponent;
    created[COMPONENT] = typeof component === 'string' ? component : this[COMPONENT];
    return created;
  };
  logger.child = redactingChild as unknown as typeof logger.child;
  return logger;
}

function outputStream(settings: CreateLoggerOptions): pino.DestinationStream {
  const destination = settings.destination ?? pino.destination({ dest: 1, sync: false });
  if ((settings.format ?? 'json') === 'json') return destination;
  return pinoPretty({
    destination,
    sync: true,
    colorize: settings.colorize ?? (settings.destination === undefined && process.stdout.isTTY === true),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,component',
    messageFormat: '[{component}] {msg}',
    hideObject: false,
    singleLine: false,
  });
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
