/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: incremental
refresh: 1h
ttl: 1d
lookback: 1d
restate: 2d
description: >
  One row per customer per day with at least one transaction. feature_ts is the END
  of that day (midnight after it), the moment the day's totals became known.
  Incremental: each refresh recomputes the days from two days before the newest
  feature_ts on (late transactions up to two days old are picked up).
tags: [customer, hourly]
tests:
  - not_null: [customer_id, feature_ts]
  - unique: [customer_id, feature_ts]
  - expression: "txn_count > 0 AND online_count <= txn_count"
  - expression: "max_amount <= total_amount"
columns:
  txn_count: Number of transactions that day.
  total_amount: Sum of the day's amounts.
  max_amount: Largest single amount that day.
  online_count: Number of online transactions that day.
  foreign_count: Number of transactions outside the customer's home country that day.
*/
SELECT
    customer_id,
    date_trunc('day', ts) + INTERVAL '1 day' AS feature_ts,
    COUNT(*) AS txn_count,
    SUM(amount) AS total_amount,
    MAX(amount) AS max_amount,
    COUNT(*) FILTER (WHERE is_online = 1) AS online_count,
    COUNT(*) FILTER (WHERE is_foreign = 1) AS foreign_count
FROM stg_transactions
GROUP BY customer_id, date_trunc('day', ts) + INTERVAL '1 day'
