-- exchange_rates: finance:xrate:{t}:from:{FROM}:to:{TO}:date:latest -> for each currency pair of
-- the tenant, its latest rate dated today (UTC) or earlier, as an object.
SELECT 'finance:xrate' AS prefix,
       'from:' || r.from_currency || ':to:' || r.to_currency || ':date:latest' AS suffix,
       row_to_json(x)::text AS value
FROM (
    SELECT DISTINCT ON (e.from_currency, e.to_currency) e.*
    FROM exchange_rates e
    WHERE e.tenant_id = $1::text
      AND e.rate_date <= (now() AT TIME ZONE 'UTC')::date
    ORDER BY e.from_currency, e.to_currency, e.rate_date DESC, e.id DESC
) r
CROSS JOIN LATERAL (
    SELECT r.id::text AS "id",
           r.tenant_id AS "tenantId",
           r.from_currency AS "fromCurrency",
           r.to_currency AS "toCurrency",
           r.rate::text AS "rate",
           to_char(r.rate_date, 'YYYY-MM-DD') AS "rateDate",
           r.source AS "source",
           to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt"
) x
