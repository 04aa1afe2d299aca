/**
 * A small Rego tokenizer for highlighting (not a parser: OPA is the judge of Rego). Pure, so it is
 * tested without a browser. Every character of the source is in exactly one token, in order, so the
 * tokens joined give back the source.
 */
export type TokenKind = 'comment' | 'string' | 'number' | 'keyword' | 'constant' | 'builtin' | 'variable' | 'operator' | 'text';

export interface Token {
  kind: TokenKind;
  text: string;
}

export const REGO_KEYWORDS: ReadonlySet<string> = new Set([
  'package', 'import', 'default', 'not', 'with', 'as', 'if', 'contains', 'else', 'some', 'every', 'in',
]);
const CONSTANTS: ReadonlySet<string> = new Set(['true', 'false', 'null', 'input', 'data']);

const RULES: ReadonlyArray<[TokenKind, RegExp]> = [
  ['comment', /#[^\n]*/y],
  ['string', /"(?:[^"\\\n]|\\.)*"?/y],
  ['string', /`[^`]*`?/y],
  ['number', /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![A-Za-z0-9_])/y],
  ['variable', /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y],
  ['operator', /:=|==|!=|<=|>=|[=<>+\-*/%|&:;,.[\]{}()]/y],
  ['text', /\s+/y],
];

export function tokenizeRego(source: string): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  const push = (kind: TokenKind, text: string): void => {
    const last = tokens[tokens.length - 1];
    if (last && last.kind === kind && (kind === 'text' || kind === 'operator')) last.text += text;
    else tokens.push({ kind, text });
  };
  while (position < source.length) {
    let matched = false;
    for (const [kind, pattern] of RULES) {
      pattern.lastIndex = position;
      const match = pattern.exec(source);
      if (!match || match[0].length === 0) continue;
      const text = match[0];
      position += text.length;
      matched = true;
      if (kind === 'variable') push(classifyWord(text, source, position), text);
      else push(kind, text);
      break;
    }
    if (!matched) {
      push('text', source[position]!);
      position++;
    }
  }
  return tokens;
}

function classifyWord(word: string, source: string, end: number): TokenKind {
  if (REGO_KEYWORDS.has(word)) return 'keyword';
  if (CONSTANTS.has(word.split('.')[0]!)) return 'constant';
  // A call: the word is followed (after spaces) by an opening parenthesis.
  if (/^[ \t]*\(/.test(source.slice(end, end + 20))) return 'builtin';
  return 'variable';
}
