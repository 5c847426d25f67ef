-- pipeline_stages: crm:stages:{t} -> the CRM pipeline stages, ordered by position.
SELECT 'crm:stages' AS prefix,
       '' AS suffix,
       coalesce('[' || string_agg(row_to_json(x)::text, ',' ORDER BY s.position, s.id) || ']', '[]') AS value
FROM crm_pipeline_stages s
CROSS JOIN LATERAL (
    SELECT s.id::text AS "id",
           s.tenant_id AS "tenantId",
           s.name AS "name",
           s.position AS "position",
           s.probability AS "probability",
           s.is_won AS "isWon",
           s.is_lost AS "isLost",
           s.color AS "color",
           to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
           to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
) x
WHERE s.tenant_id = $1::text
