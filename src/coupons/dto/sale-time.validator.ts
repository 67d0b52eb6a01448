import { ValidationOptions, ValidatorConstraint, ValidatorConstraintInterface, Validate } from 'class-validator';

/** ISO 8601 date-time with an explicit offset, at most millisecond precision. */
const OFFSET_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * A sale bound must name an instant: a time without an offset would depend on the server's
 * zone, and Date.parse would quietly roll 2026-02-30 over to March, so both are refused.
 */
@ValidatorConstraint({ name: 'offsetDateTime' })
class OffsetDateTimeConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string') return false;
    const match = OFFSET_DATE_TIME.exec(value);
    if (!match) return false;
    const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match
      .slice(1)
      .map((part) => (part === undefined ? 0 : Number(part)));
    const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    return (
      year >= 1970 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= daysInMonth &&
      hour <= 23 &&
      minute <= 59 &&
      second <= 59 &&
      offsetHours <= 18 &&
      offsetMinutes <= 59 &&
      !Number.isNaN(Date.parse(value))
    );
  }

  defaultMessage(): string {
    return '$property must be an ISO 8601 date-time with an offset, e.g. 2026-11-23T10:00:00Z or 2026-11-23T12:00:00+02:00';
  }
}

export const IsOffsetDateTime = (options?: ValidationOptions) => Validate(OffsetDateTimeConstraint, options);
