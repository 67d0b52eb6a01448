-- What one million claims' Idempotency-Keys cost in PostgreSQL: the idempotency_keys table of
-- migrations/1764200000000-IdempotencyKeys.ts (without its users foreign key, which adds no
-- bytes), one row per granted claim shaped as the service writes it: a UUID key, a SHA-256
-- base64url fingerprint, status 200 and the claim body with a 12-character username.
-- Run in a throwaway database:
--   createdb -h 127.0.0.1 -U postgres keys_storage && psql -h 127.0.0.1 -U postgres -d keys_storage -f bench/idempotency-storage.sql && dropdb -h 127.0.0.1 -U postgres keys_storage
CREATE TABLE idempotency_keys (
  user_id       bigint      NOT NULL,
  key           text        NOT NULL,
  fingerprint   text        NOT NULL,
  status_code   smallint    NOT NULL,
  response_body json        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, response_body, created_at)
SELECT i,
       gen_random_uuid()::text,
       translate(rtrim(encode(sha256(i::text::bytea), 'base64'), '='), '+/', '-_'),
       200,
       json_build_object('coupon_name', 'FLASH50', 'user_id', 'user_' || lpad(i::text, 7, '0'),
                          'claimed_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
       now() + i * interval '1 microsecond'
  FROM generate_series(1, 1000000) AS i;
VACUUM ANALYZE idempotency_keys;
SELECT count(*) AS rows,
       pg_size_pretty(pg_table_size('idempotency_keys')) AS heap_and_toast,
       pg_size_pretty(pg_relation_size('idempotency_keys_pkey')) AS primary_key_index,
       pg_size_pretty(pg_relation_size('idempotency_keys_created_at_idx')) AS created_at_index,
       pg_size_pretty(pg_total_relation_size('idempotency_keys')) AS total,
       round(pg_total_relation_size('idempotency_keys')::numeric / count(*)) AS bytes_per_key
  FROM idempotency_keys;
