-- The periods starting from 6 months before the current (UTC) year to 6 months after it,
-- ordered by start date; [] for a tenant without such periods.
-- phase: critical
-- ttl: STATIC
-- tables: financial_periods
-- key: finance:periods:{tenant}:window:current
-- value: list
SELECT p.id AS "id",
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
FROM financial_periods p
WHERE p.tenant_id = $1::text
  AND p.start_date >= (date_trunc('year', now() AT TIME ZONE 'UTC') - interval '6 months')::date
  AND p.start_date < (date_trunc('year', now() AT TIME ZONE 'UTC') + interval '18 months')::date
ORDER BY p.start_date, p.id
