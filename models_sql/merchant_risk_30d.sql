/* featurekit
entity: merchant_id
timestamp: feature_ts
materialized: materialized_view
refresh: 1d
ttl: 2d
description: >
  Daily merchant risk: activity over the 30 days before feature_ts (a midnight) and
  the fraud rate among those transactions whose label was known before feature_ts
  (labeled_at < feature_ts), so the value is point-in-time honest: fraud reported
  later does not leak back. One row per merchant per day from its first transaction.
tags: [merchant, daily]
tests:
  - unique: [merchant_id, feature_ts]
  - relationships: {column: merchant_id, to: merchants}
  - expression: "fraud_count_30d <= labeled_count_30d AND labeled_count_30d <= txn_count_30d"
columns:
  txn_count_30d: Transactions in [feature_ts - 30 days, feature_ts).
  avg_amount_30d: Average amount of those transactions (NULL when none).
  labeled_count_30d: How many of them had a label before feature_ts.
  fraud_count_30d: How many of them were labeled fraud before feature_ts.
  fraud_rate_30d: fraud_count_30d / labeled_count_30d (NULL when nothing is labeled yet).
*/
WITH calendar AS (
    SELECT DISTINCT date_trunc('day', ts) + INTERVAL '1 day' AS feature_ts
    FROM stg_transactions
),
first_seen AS (
    SELECT merchant_id, MIN(ts) AS first_ts
    FROM stg_transactions
    GROUP BY merchant_id
),
spine AS (
    SELECT f.merchant_id, c.feature_ts
    FROM first_seen AS f
    JOIN calendar AS c ON c.feature_ts > f.first_ts
),
labels AS (
    SELECT
        CAST(txn_id AS BIGINT) AS txn_id,
        CAST(is_fraud AS INTEGER) AS is_fraud,
        CAST(labeled_at AS TIMESTAMP) AS labeled_at
    FROM fraud_labels
)
SELECT
    s.merchant_id,
    s.feature_ts,
    COUNT(t.txn_id) AS txn_count_30d,
    AVG(t.amount) AS avg_amount_30d,
    COUNT(l.txn_id) AS labeled_count_30d,
    COUNT(l.txn_id) FILTER (WHERE l.is_fraud = 1) AS fraud_count_30d,
    CAST(COUNT(l.txn_id) FILTER (WHERE l.is_fraud = 1) AS DOUBLE)
        / CAST(NULLIF(COUNT(l.txn_id), 0) AS DOUBLE) AS fraud_rate_30d
FROM spine AS s
LEFT JOIN stg_transactions AS t
    ON t.merchant_id = s.merchant_id
    AND t.ts >= s.feature_ts - INTERVAL '30 days'
    AND t.ts < s.feature_ts
LEFT JOIN labels AS l
    ON l.txn_id = t.txn_id
    AND l.labeled_at < s.feature_ts
GROUP BY s.merchant_id, s.feature_ts
