-- Every account of the tenant, ordered by code; [] for a tenant without accounts.
-- phase: critical
-- ttl: STATIC
-- tables: chart_of_accounts
-- key: finance:coa:{tenant}
-- value: list
SELECT a.id AS "id",
       a.tenant_id AS "tenantId",
       a.code AS "code",
       a.name AS "name",
       a.account_type AS "accountType",
       a.normal_balance AS "normalBalance",
       a.parent_code AS "parentCode",
       a.level AS "level",
       a.is_postable AS "isPostable",
       a.currency AS "currency",
       a.is_active AS "isActive",
       a.description AS "description",
       a.created_at AS "createdAt",
       a.updated_at AS "updatedAt"
FROM chart_of_accounts a
WHERE a.tenant_id = $1::text
ORDER BY a.code, a.id
