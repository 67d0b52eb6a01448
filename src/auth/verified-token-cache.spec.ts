import { TokenPayload } from './authenticated-user';
import { VerifiedTokenCache } from './verified-token-cache';

describe('VerifiedTokenCache', () => {
  const payload = (exp?: number): TokenPayload => ({ sub: '1', username: 'alice', role: 'user', exp });

  it('hits until the expiry second, then forgets (now >= exp is expired, as jsonwebtoken has it)', () => {
    const cache = new VerifiedTokenCache(10);
    cache.remember('t', payload(1000));
    expect(cache.get('t', 999)).toEqual(payload(1000));
    expect(cache.get('t', 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never keeps a token without an expiry, nor anything at capacity 0', () => {
    const cache = new VerifiedTokenCache(10);
    cache.remember('forever', payload());
    expect(cache.get('forever', 0)).toBeUndefined();
    const off = new VerifiedTokenCache(0);
    off.remember('t', payload(1000));
    expect(off.get('t', 0)).toBeUndefined();
  });

  it('stays within its capacity by dropping the oldest entry', () => {
    const cache = new VerifiedTokenCache(2);
    cache.remember('a', payload(1000));
    cache.remember('b', payload(1000));
    cache.remember('c', payload(1000));
    expect(cache.size).toBe(2);
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('b', 0)).toBeDefined();
    expect(cache.get('c', 0)).toBeDefined();
  });
});
