-- For each currency pair of the tenant, its latest rate dated today (UTC) or earlier. Each
-- pair's latest rate is one index probe (tenant, from, to, date descending) rather than a sort
-- of the tenant's whole rate history.
-- phase: critical
-- ttl: STATIC
-- tables: exchange_rates
-- key: finance:xrate:{tenant}:from:{fromCurrency}:to:{toCurrency}:date:latest
-- value: object
SELECT r.id AS "id",
       r.tenant_id AS "tenantId",
       r.from_currency AS "fromCurrency",
       r.to_currency AS "toCurrency",
       r.rate AS "rate",
       r.rate_date AS "rateDate",
       r.source AS "source",
       r.created_at AS "createdAt"
FROM (SELECT DISTINCT e.from_currency, e.to_currency FROM exchange_rates e WHERE e.tenant_id = $1::text) pair
CROSS JOIN LATERAL (
    SELECT e.*
    FROM exchange_rates e
    WHERE e.tenant_id = $1::text
      AND e.from_currency = pair.from_currency
      AND e.to_currency = pair.to_currency
      AND e.rate_date <= (now() AT TIME ZONE 'UTC')::date
    ORDER BY e.rate_date DESC, e.id DESC
    LIMIT 1
) r
ORDER BY r.from_currency, r.to_currency
