-- chart_of_accounts: finance:coa:{t} -> every account of the tenant, ordered by code.
-- A list of typed rows (catalog.List): the warmer encodes the accounts and gathers them into
-- the key's array; a tenant without accounts gets one row of NULLs, and so [].
SELECT 'finance:coa' AS prefix,
       '' AS suffix,
       a.id AS "id",
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
FROM (SELECT) AS one
LEFT JOIN chart_of_accounts a ON a.tenant_id = $1::text
ORDER BY a.code, a.id
