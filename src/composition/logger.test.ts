import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { InputError } from '../domain/errors.js';
import { createLogger } from './logger.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('createLogger', () => {
  test('no log line prints the credentials of a URL: messages, fields, nested fields, errors, causes, details, child bindings', async () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'trace', destination: stream });
    const cause = new Error("fatal: unable to access 'https://u:S1@host.invalid/x.git?t=S2': could not resolve host");
    logger.error({ err: new Error('git fetch to https://x-access-token:S3@host.invalid/x.git failed', { cause }) }, 'fetch failed');
    logger.fatal({ err: new InputError('invalid_remote_url', 'the remote URL https://u:S4@host.invalid/r.git?token=S5 carries credentials', { field: 'remote.url', url: 'https://u:S6@host.invalid' }) }, 'regent failed to start');
    logger.info({ remote: 'https://u:S7@host.invalid/x', nested: { urls: ['https://host.invalid/x?private_token=S8'] } }, 'message naming https://u:S9@host.invalid');
    logger.child({ component: 'mirror', remote: 'https://u:S10@host.invalid/x' }).child({ part: 'fetch' }).warn({ reason: 'see https://host.invalid/x#S11' }, 'grandchild');
    await new Promise((done) => setImmediate(done));
    const output = text();
    expect(output.split('\n').filter(Boolean)).toHaveLength(4);
    expect(output).not.toMatch(/S\d/);
    expect(output).toContain('https://***@host.invalid/x.git');
    expect(output).toContain('remote.url');
    expect(output).toContain('caused by');
    expect(output).toContain('"remote":"https://***@host.invalid/x","part":"fetch"');
    expect(output).toContain('"component":"mirror"');
  });

  test('keeps the configured path redaction (authorization headers, secrets, tokens)', async () => {
    const { stream, text } = capture();
    createLogger({ level: 'info', destination: stream }).info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } }, remote: { token: 'tok-123' } }, 'request');
    await new Promise((done) => setImmediate(done));
    expect(text()).not.toContain('abc.def.ghi');
    expect(text()).not.toContain('tok-123');
  });

  test('every line carries exactly one component key: the innermost child names it, the root logger says main', async () => {
    const { stream, text } = capture();
    const root = createLogger({ level: 'info', destination: stream });
    root.info('root line');
    const store = root.child({ component: 'store' });
    store.info({ revision: 'abc' }, 'store line');
    store.child({ component: 'git-policy-repository', branch: 'main' }).info('nested line');
    store.child({ part: 'fetch' }).info('child without a component');
    await new Promise((done) => setImmediate(done));
    const lines = text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.match(/"component":/g)).toHaveLength(1);
    expect(lines.map((line) => (JSON.parse(line) as { component: string }).component)).toEqual(['main', 'store', 'git-policy-repository', 'store']);
    expect(JSON.parse(lines[2]!)).toMatchObject({ branch: 'main', msg: 'nested line' });
  });

  test('the pretty format writes readable lines naming the level, the component and the message, and still redacts', async () => {
    const { stream, text } = capture();
    const logger = createLogger({ level: 'info', format: 'pretty', destination: stream, colorize: false });
    logger.child({ component: 'gate' }).warn({ revision: 'abc123', remote: 'https://u:S1@host.invalid/x' }, 'revision rejected');
    await new Promise((done) => setImmediate(done));
    const output = text();
    expect(output).not.toMatch(/^\{/m);
    expect(output).toMatch(/WARN.*\[gate\] revision rejected/);
    expect(output).toContain('revision: "abc123"');
    expect(output).not.toContain('S1');
  });
});
