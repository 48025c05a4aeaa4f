/* featurekit
entity: customer_id
timestamp: feature_ts
materialized: table
refresh: 1d
description: Static customer attributes, known from the day the customer signed up.
tags: [customer, daily]
tests:
  - not_null: [customer_id, feature_ts]
  - unique: customer_id
  - accepted_values: {column: segment, values: [standard, premium, student, business]}
columns:
  signup_date: Date the customer opened the account.
  age: Age in years in 2024 (2024 - birth_year).
  home_country: The customer's country (ISO code).
  segment: Customer segment (standard, premium, student, business).
  tenure_days: Days between signup and 2024-01-01, the start of the data.
*/
SELECT
    CAST(customer_id AS BIGINT) AS customer_id,
    CAST(CAST(signup_date AS DATE) AS TIMESTAMP) AS feature_ts,
    CAST(signup_date AS DATE) AS signup_date,
    2024 - CAST(birth_year AS INTEGER) AS age,
    country AS home_country,
    segment,
    CAST(DATE '2024-01-01' - CAST(signup_date AS DATE) AS INTEGER) AS tenure_days
FROM customers
