import type { AppConfig } from '../config/app-config';

/** The events the service publishes; each is also its routing key (documentation/asyncapi.yaml). */
export const EVENT_TYPES = ['claim.granted', 'coupon.created', 'coupon.updated', 'coupon.closed', 'coupon.sold_out'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Whether state changes write their events to the outbox: only when a broker is configured.
 * Without one nothing would ever drain the table, and the quick start needs no broker
 * (decisions.md). The claims and coupons repositories both ask this one function.
 */
export const eventsWritten = (config: AppConfig | undefined): boolean => (config?.EVENTS_URL ?? '') !== '';

/** An outbox row as the relay reads it. */
export interface OutboxRow {
  id: string;
  event_id: string;
  event_type: EventType;
  coupon_name: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
  attempts: number;
}

/** The message body: the common fields, then the type's own (claim.granted: user_id, claimed_at). */
export function eventBody(row: OutboxRow): Record<string, unknown> {
  return {
    id: row.event_id,
    type: row.event_type,
    occurred_at: row.occurred_at.toISOString(),
    coupon_name: row.coupon_name,
    ...normalisedPayload(row.payload),
  };
}

/** jsonb keeps timestamps as PostgreSQL printed them ("+00:00", microseconds): re-print them as the API does. */
function normalisedPayload(payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) {
    out[key] = typeof value === 'string' && key.endsWith('_at') ? new Date(value).toISOString() : value;
  }
  return out;
}
