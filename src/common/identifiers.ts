import { Matches, ValidationArguments } from 'class-validator';

/**
 * The shapes of the names and cursors clients send, each written once: the DTOs, the config
 * check of ADMIN_USERNAME, the login rate limit and the OpenAPI patterns all use these.
 */

/** ASCII letters, digits and _ . - only: no look-alike or invisible characters in names. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,64}$/;
export const USERNAME_RULE = '3-64 characters of [A-Za-z0-9_.-]';

/** One name in any case (users_username_lower_key). ASCII only, so this is PostgreSQL's lower(). */
export const sameUsername = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** Coupon names are case-sensitive. */
export const COUPON_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const COUPON_NAME_RULE = '1-64 characters of [A-Za-z0-9_-]';

/** A page cursor as this service issues it (the base64url of a row id); see common/pagination.ts. */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

const mustBe = (rule: string) => ({ message: ({ property }: ValidationArguments) => `${property} must be ${rule}` });

/** "<field> must be 3-64 characters of [A-Za-z0-9_.-]" */
export const IsUsername = () => Matches(USERNAME_PATTERN, mustBe(USERNAME_RULE));

/** "<field> must be 1-64 characters of [A-Za-z0-9_-]" */
export const IsCouponName = () => Matches(COUPON_NAME_PATTERN, mustBe(COUPON_NAME_RULE));
