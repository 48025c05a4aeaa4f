/* featurekit
timestamp: ts
materialized: view
description: >
  Cleaned card transactions: typed columns, channel in lower case, reversals
  (amount <= 0) removed, joined with the merchant's category and the customer's
  home country.
tags: [staging]
tests:
  - not_null: [txn_id, customer_id, merchant_id, ts]
  - unique: txn_id
  - accepted_values: {column: channel, values: [pos, online, atm]}
  - relationships: {column: merchant_id, to: merchants, field: merchant_id}
  - relationships: {column: customer_id, to: customers}
  - expression: "amount > 0"
columns:
  txn_id: Transaction id (unique).
  ts: When the transaction happened (naive UTC).
  amount: Amount in the card's currency, as DOUBLE.
  channel: pos, online or atm.
  country: Country where the transaction took place (the merchant's).
  merchant_category: Category of the merchant (mcc-like).
  home_country: The customer's country.
  is_online: 1 when channel is online, else 0.
  is_foreign: 1 when the transaction country differs from the customer's country, else 0.
*/
SELECT
    CAST(t.txn_id AS BIGINT) AS txn_id,
    CAST(t.customer_id AS BIGINT) AS customer_id,
    CAST(t.merchant_id AS BIGINT) AS merchant_id,
    CAST(t.ts AS TIMESTAMP) AS ts,
    CAST(t.amount AS DOUBLE) AS amount,
    LOWER(t.channel) AS channel,
    t.country AS country,
    m.category AS merchant_category,
    c.country AS home_country,
    CASE WHEN LOWER(t.channel) = 'online' THEN 1 ELSE 0 END AS is_online,
    CASE WHEN t.country <> c.country THEN 1 ELSE 0 END AS is_foreign
FROM transactions AS t
JOIN merchants AS m ON m.merchant_id = t.merchant_id
JOIN customers AS c ON c.customer_id = t.customer_id
WHERE CAST(t.amount AS DOUBLE) > 0
