/**
 * `scheme://user:password@host`: the password part of a URL's userinfo. Greedy up to the last
 * `@` before a slash or a space, so an unencoded `@` inside a password is masked whole; the
 * `//` of the next URL in a list (REDIS_URLS) stops it.
 */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/]*@/gi;

/** `text` with the password of every URL in it replaced by `***` (the user and host stay readable). */
export function maskCredentials(text: string): string {
  return text.replace(URL_PASSWORD, '$1:***@');
}

/** Keys whose whole value is a secret: never shown, not even masked. */
export const isSecretKey = (key: string): boolean => /SECRET|PASSWORD|TOKEN/.test(key);

/** How a configuration value may appear in a message: hidden if the key is a secret, else with URL passwords masked. */
export function shownValue(key: string, value: unknown): string {
  if (isSecretKey(key)) return '<hidden>';
  return maskCredentials(JSON.stringify(value) ?? String(value));
}
