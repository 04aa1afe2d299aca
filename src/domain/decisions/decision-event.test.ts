import { describe, expect, test } from 'vitest';
import { InputError, PayloadTooLargeError } from '../errors.js';
import { parseDecisionBatch } from './decision-event.js';

/** A decision event as OPA v1.22 sends it (captured from a real agent; metrics trimmed). */
function opaEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    labels: { id: '2d986a4f-132e-4847-93ba-60e6e75dd3a5', name: 'probe', version: '1.22.2' },
    decision_id: 'a7b1f68f-4eee-49a5-ae29-0d822983403d',
    bundles: { rbac: { revision: 'a'.repeat(40) } },
    path: 'rbac/allow',
    input: { user: 'a' },
    result: true,
    erased: ['/input/password'],
    requested_by: '127.0.0.1:56576',
    timestamp: '2026-12-01T16:05:25.362917216Z',
    metrics: { timer_rego_query_eval_ns: 41321 },
    req_id: 1,
    ...overrides,
  };
}

const context = { receivedAt: '2026-12-01T16:05:27.000Z' };

describe('parseDecisionBatch', () => {
  test('keeps what OPA decided, as it sent it, and drops what Regent has no use for', () => {
    const [record] = parseDecisionBatch([opaEvent()], { maxEvents: 10 }, { ...context, partition: 'eu' });
    expect(record).toEqual({
      decisionId: 'a7b1f68f-4eee-49a5-ae29-0d822983403d', timestamp: '2026-12-01T16:05:25.362917216Z', path: 'rbac/allow',
      agentId: '2d986a4f-132e-4847-93ba-60e6e75dd3a5', labels: { id: '2d986a4f-132e-4847-93ba-60e6e75dd3a5', name: 'probe', version: '1.22.2' },
      bundles: { rbac: { revision: 'a'.repeat(40) } }, input: { user: 'a' }, result: true, erased: ['/input/password'],
      receivedAt: '2026-12-01T16:05:27.000Z', partition: 'eu',
    });
    expect(Object.getPrototypeOf(record!.labels)).toBeNull();
  });

  test('an ad-hoc query (no path), an undefined result and an error are kept as such', () => {
    const [record] = parseDecisionBatch([opaEvent({ path: undefined, query: 'data.x = y', result: undefined, error: { code: 'eval_error' } })], { maxEvents: 10 }, context);
    expect(record).toMatchObject({ path: '', query: 'data.x = y', error: { code: 'eval_error' } });
    expect('result' in record!).toBe(false);
  });

  test('a label or bundle named __proto__ is a name like any other', () => {
    const [record] = parseDecisionBatch([JSON.parse(JSON.stringify(opaEvent()).replace('"name":"probe"', '"__proto__":"x"').replace('"rbac":{', '"__proto__":{'))], { maxEvents: 10 }, context);
    expect(Object.keys(record!.labels)).toContain('__proto__');
    expect(Object.keys(record!.bundles)).toEqual(['__proto__']);
  });

  test.each([
    ['an object instead of an array', {}, 'body'],
    ['an event that is not an object', [7], '[0]'],
    ['no labels.id', [opaEvent({ labels: { name: 'x' } })], '[0].labels.id'],
    ['a label that is not a string', [opaEvent({ labels: { id: 'a', n: 1 } })], '[0].labels.n'],
    ['no decision_id', [opaEvent({ decision_id: undefined })], '[0].decision_id'],
    ['a decision_id with spaces', [opaEvent({ decision_id: 'a b' })], '[0].decision_id'],
    ['a timestamp without a zone', [opaEvent({ timestamp: '2026-12-01T16:05:25' })], '[0].timestamp'],
    ['a timestamp that is no date', [opaEvent({ timestamp: '2026-13-45T99:00:00Z' })], '[0].timestamp'],
    ['a numeric path', [opaEvent({ path: 7 })], '[0].path'],
    ['a bundle without a revision', [opaEvent({ bundles: { rbac: {} } })], '[0].bundles.rbac.revision'],
    ['erased that is not a list of pointers', [opaEvent({ erased: [1] })], '[0].erased'],
    ['a bad second event', [opaEvent(), opaEvent({ timestamp: 'yesterday' })], '[1].timestamp'],
  ])('refuses %s with invalid_decision_batch naming the field', (_name, body, field) => {
    let error: unknown;
    try {
      parseDecisionBatch(body, { maxEvents: 10 }, context);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ code: 'invalid_decision_batch', details: { field } });
  });

  test('more events than the limit is too_many_decisions', () => {
    expect(() => parseDecisionBatch([opaEvent(), opaEvent(), opaEvent()], { maxEvents: 2 }, context)).toThrow(PayloadTooLargeError);
  });
});
