/* featurekit
description: >
  customer_txn_daily accounts for every cleaned transaction exactly once: its daily
  counts add up to the number of rows of stg_transactions, per customer.
*/
SELECT
    COALESCE(d.customer_id, t.customer_id) AS customer_id,
    d.daily_total,
    t.transactions
FROM (
    SELECT customer_id, SUM(txn_count) AS daily_total
    FROM customer_txn_daily
    GROUP BY customer_id
) AS d
FULL OUTER JOIN (
    SELECT customer_id, COUNT(*) AS transactions
    FROM stg_transactions
    GROUP BY customer_id
) AS t ON t.customer_id = d.customer_id
WHERE d.daily_total IS NULL OR t.transactions IS NULL OR d.daily_total <> t.transactions
