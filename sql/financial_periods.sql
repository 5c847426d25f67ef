-- financial_periods: finance:periods:{t}:window:current -> the periods starting from 6 months
-- before the current (UTC) year to 6 months after it, ordered by start date.
-- A list of typed rows (catalog.List): the warmer encodes the periods and gathers them into
-- the key's array; a tenant without such periods gets one row of NULLs, and so [].
SELECT 'finance:periods' AS prefix,
       'window:current' AS suffix,
       p.id AS "id",
       p.tenant_id AS "tenantId",
       p.fiscal_year AS "fiscalYear",
       p.period_number AS "periodNumber",
       p.name AS "name",
       p.start_date AS "startDate",
       p.end_date AS "endDate",
       p.status AS "status",
       p.closed_at AS "closedAt",
       p.created_at AS "createdAt",
       p.updated_at AS "updatedAt"
FROM (SELECT) AS one
LEFT JOIN financial_periods p
       ON p.tenant_id = $1::text
      AND p.start_date >= (date_trunc('year', now() AT TIME ZONE 'UTC') - interval '6 months')::date
      AND p.start_date < (date_trunc('year', now() AT TIME ZONE 'UTC') + interval '18 months')::date
ORDER BY p.start_date, p.id
