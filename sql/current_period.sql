-- The open period containing today (UTC). When the tenant has no such period the query
-- returns no row, so no key is written (a reader gets a miss, as for a null it does not cache).
-- phase: critical
-- ttl: STATIC
-- tables: financial_periods
-- key: finance:current_period:{tenant}
-- value: object
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
  AND p.status = 'open'
  AND p.start_date <= (now() AT TIME ZONE 'UTC')::date
  AND p.end_date >= (now() AT TIME ZONE 'UTC')::date
ORDER BY p.start_date DESC, p.id DESC
LIMIT 1
