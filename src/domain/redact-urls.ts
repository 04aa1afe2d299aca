/**
 * A URL anywhere in a text: scheme, then user info up to the last `@` before the path (a password may
 * hold an `@`), host and path, then a query or fragment. Quotes and whitespace end it, as in git's
 * `fatal: unable to access 'https://...': ...`.
 */
const URL_IN_TEXT = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:([^\s/?#'"<>]*)@)?([^\s?#'"<>]*)([?#][^\s'"<>]*)?/g;

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
