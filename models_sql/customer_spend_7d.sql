/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: materialized_view
refresh: 1h
ttl: 7d
description: >
  Spend per customer over the 7 days before feature_ts (the days ending in
  (feature_ts - 7 days, feature_ts]). A row is emitted whenever the window changes:
  at the end of each active day, and 7 days later when that day leaves the window
  (then the window may be empty: spend 0, averages NULL). Rows never lie after the
  last day in the data.
tags: [customer, hourly]
tests:
  - unique: [customer_id, feature_ts]
  - expression: "spend_7d >= 0"
  - expression: "online_share_7d BETWEEN 0 AND 1"
columns:
  spend_7d: Total amount spent in the 7 days before feature_ts.
  txn_count_7d: Number of transactions in the 7 days before feature_ts.
  avg_amount_7d: Average transaction amount in the window (NULL when empty).
  max_amount_7d: Largest transaction amount in the window (NULL when empty).
  online_share_7d: Share of the window's transactions made online (NULL when empty).
*/
WITH change_points AS (
    SELECT customer_id, feature_ts
    FROM customer_txn_daily
    UNION
    SELECT customer_id, feature_ts + INTERVAL '7 days' AS feature_ts
    FROM customer_txn_daily
    WHERE feature_ts + INTERVAL '7 days' <= (SELECT MAX(feature_ts) FROM customer_txn_daily)
)
SELECT
    p.customer_id,
    p.feature_ts,
    COALESCE(SUM(d.total_amount), 0) AS spend_7d,
    CAST(COALESCE(SUM(d.txn_count), 0) AS BIGINT) AS txn_count_7d,
    SUM(d.total_amount) / CAST(NULLIF(SUM(d.txn_count), 0) AS DOUBLE) AS avg_amount_7d,
    MAX(d.max_amount) AS max_amount_7d,
    CAST(SUM(d.online_count) AS DOUBLE) / CAST(NULLIF(SUM(d.txn_count), 0) AS DOUBLE) AS online_share_7d
FROM change_points AS p
LEFT JOIN customer_txn_daily AS d
    ON d.customer_id = p.customer_id
    AND d.feature_ts > p.feature_ts - INTERVAL '7 days'
    AND d.feature_ts <= p.feature_ts
GROUP BY p.customer_id, p.feature_ts
