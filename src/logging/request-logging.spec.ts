import { safeRequestFields } from './request-logging';

describe('safeRequestFields (the request line skips pino redaction, so it guards the handler fields itself)', () => {
  it('passes flat, harmless fields through as they are (no copy on the hot path)', () => {
    const fields = { coupon: 'SALE', outcome: 'SOLD_OUT', lock_wait_ms: 3 };
    expect(safeRequestFields(fields)).toBe(fields);
    expect(safeRequestFields(undefined)).toBeUndefined();
  });

  it('censors a secret-named field and any nested value', () => {
    expect(
      safeRequestFields({ coupon: 'SALE', token: 'eyJ.secret', password: 'pw', authorization: 'Bearer x', user: { password: 'pw' } }),
    ).toEqual({
      coupon: 'SALE',
      token: '[redacted]',
      password: '[redacted]',
      authorization: '[redacted]',
      user: '[object]',
    });
  });
});
