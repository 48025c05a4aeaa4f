/* featurekit
timestamp: event_timestamp
materialized: view
description: >
  The label set for training a fraud model: every cleaned transaction with its
  fraud label. event_timestamp is the moment of the transaction, the time at which
  features are looked up point-in-time.
tests:
  - unique: txn_id
  - accepted_values: {column: is_fraud, values: [0, 1]}
  - relationships: {column: txn_id, to: stg_transactions}
columns:
  event_timestamp: When the transaction happened (naive UTC).
  is_fraud: 1 when the transaction was reported as fraud, else 0.
*/
SELECT
    t.txn_id,
    t.customer_id,
    t.merchant_id,
    t.ts AS event_timestamp,
    t.amount,
    t.channel,
    CAST(l.is_fraud AS INTEGER) AS is_fraud
FROM stg_transactions AS t
JOIN fraud_labels AS l ON CAST(l.txn_id AS BIGINT) = t.txn_id
