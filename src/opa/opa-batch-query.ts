import type { EvaluatedDecision, EvaluationGroup } from '../domain/policies/policy-inspector.js';

/**
 * One `opa eval` for many inputs: the input document is the list of groups' inputs, and the query maps
 * every input of a group through its data reference with `with input as`, giving per group the count
 * of inputs OPA saw and the value of each one that is defined (keyed by its index):
 *
 *   [{"count": count(input[0]), "values": {i: v | some i, x in input[0]; v := data.rbac.allow with input as x}}, ...]
 *
 * Queries are data references checked by the caller (`data(.name)*`): nothing else reaches OPA.
 */
export function batchQuery(groups: readonly EvaluationGroup[]): string {
  return `[${groups.map((group, index) => `{"count": count(input[${index}]), "values": {i: v | some i, x in input[${index}]; v := ${group.query} with input as x}}`).join(', ')}]`;
}

/**
 * OPA's answer to {@link batchQuery}, per group and input, or undefined when it is not one: a group
 * missing, a count that is not the number of inputs sent (an OPA that read something else), an index
 * out of range.
 */
export function readBatchAnswer(value: unknown, groups: readonly EvaluationGroup[]): EvaluatedDecision[][] | undefined {
  if (!Array.isArray(value) || value.length !== groups.length) return undefined;
  const answers: EvaluatedDecision[][] = [];
  for (const [index, group] of groups.entries()) {
    const answer: unknown = value[index];
    if (typeof answer !== 'object' || answer === null) return undefined;
    const { count, values } = answer as { count?: unknown; values?: unknown };
    if (count !== group.inputs.length || typeof values !== 'object' || values === null || Array.isArray(values)) return undefined;
    const decisions: EvaluatedDecision[] = group.inputs.map(() => ({ defined: false }));
    for (const [key, result] of Object.entries(values)) {
      const at = Number(key);
      if (!/^(0|[1-9]\d*)$/.test(key) || at >= decisions.length) return undefined;
      decisions[at] = { defined: true, result };
    }
    answers.push(decisions);
  }
  return answers;
}
