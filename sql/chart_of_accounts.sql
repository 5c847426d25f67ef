-- chart_of_accounts: finance:coa:{t} -> every account of the tenant, ordered by code.
SELECT 'finance:coa' AS prefix,
       '' AS suffix,
       coalesce('[' || string_agg(row_to_json(x)::text, ',' ORDER BY a.code, a.id) || ']', '[]') AS value
FROM chart_of_accounts a
CROSS JOIN LATERAL (
    SELECT a.id::text AS "id",
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
           to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
           to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
) x
WHERE a.tenant_id = $1::text
