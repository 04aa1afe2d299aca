import type { LogFn, Logger } from '../domain/logger.js';

/**
 * The CLI's logger: one human-readable line per message on stderr (stdout carries only the command's
 * output), `regent: warning: <message> (key=value ...)`. Debug and info lines are dropped unless `verbose`.
 */
export function stderrLogger(write: (line: string) => void, verbose = false, bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string, enabled: boolean): LogFn => ((fieldsOrMessage: Record<string, unknown> | string, message?: string): void => {
    if (!enabled) return;
    const fields = typeof fieldsOrMessage === 'string' ? bindings : { ...bindings, ...fieldsOrMessage };
    const text = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : message ?? '';
    const extra = Object.entries(fields).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' ');
    write(`regent: ${level}${text}${extra ? ` (${extra})` : ''}\n`);
  }) as LogFn;
  return {
    debug: at('debug: ', verbose),
    info: at('', verbose),
    warn: at('warning: ', true),
    error: at('error: ', true),
    child: (more) => stderrLogger(write, verbose, { ...bindings, ...more }),
  };
}
