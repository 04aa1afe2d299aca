/**
 * A URL anywhere in a text: scheme, then user info up to the last `@` of the URL (a token may hold `@`,
 * `/`, `+`, `?` or `#`: base64 does, and so does a mistyped password), host and path, then a query or
 * fragment. Quotes and whitespace end it, as in git's `fatal: unable to access 'https://...': ...`. A
 * path that holds an `@` is taken for user info and redacted with it: too much is hidden, never too little.
 */
const URL_IN_TEXT = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:([^\s'"<>]*)@)?([^\s?#'"<>]*)([?#][^\s'"<>]*)?/g;

/**
 * The text with every URL's credentials removed entirely: user info (`https://user:token@host`) becomes
 * `***@`, a query string or fragment (`?private_token=...`) becomes `?***`. Scheme, host and path stay,
 * so a message still says which remote failed. For error messages, log lines and `/status`.
 */
export function redactUrls(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, (_match, scheme: string, userInfo: string | undefined, rest: string, tail: string | undefined) =>
    `${scheme}${userInfo === undefined ? '' : '***@'}${rest}${tail === undefined ? '' : `${tail[0]}***`}`);
}
