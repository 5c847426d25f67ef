-- financial_periods: finance:periods:{t}:window:current -> the periods starting from 6 months
-- before the current (UTC) year to 6 months after it, ordered by start date.
SELECT 'finance:periods' AS prefix,
       'window:current' AS suffix,
       coalesce('[' || string_agg(row_to_json(x)::text, ',' ORDER BY p.start_date, p.id) || ']', '[]') AS value
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
  AND p.start_date >= (date_trunc('year', now() AT TIME ZONE 'UTC') - interval '6 months')::date
  AND p.start_date < (date_trunc('year', now() AT TIME ZONE 'UTC') + interval '18 months')::date
