-- current_period: finance:current_period:{t} -> the open period containing today (UTC), as an
-- object. When the tenant has no such period the query returns no row, so no key is written
-- (an application reading it gets a miss, as it would for a null result it does not cache).
SELECT 'finance:current_period' AS prefix,
       '' AS suffix,
       row_to_json(x)::text AS value
FROM financial_periods p
CROSS JOIN LATERAL (
    SELECT p.id::text AS "id",
           p.tenant_id AS "tenantId",
           p.fiscal_year AS "fiscalYear",
           p.period_number AS "periodNumber",
           p.name AS "name",
           to_char(p.start_date, 'YYYY-MM-DD') AS "startDate",
           to_char(p.end_date, 'YYYY-MM-DD') AS "endDate",
           p.status AS "status",
           to_char(p.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "closedAt",
           to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
           to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
) x
WHERE p.tenant_id = $1::text
  AND p.status = 'open'
  AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
  AND p.end_date >= (now() AT TIME ZONE 'UTC')::date
ORDER BY p.start_date DESC, p.id DESC
LIMIT 1
