-- pipeline_stages: crm:stages:{t} -> the CRM pipeline stages, ordered by position.
-- A list of typed rows (catalog.List); a tenant without stages gets one row of NULLs, and so [].
SELECT 'crm:stages' AS prefix,
       '' AS suffix,
       s.id AS "id",
       s.tenant_id AS "tenantId",
       s.name AS "name",
       s.position AS "position",
       s.probability AS "probability",
       s.is_won AS "isWon",
       s.is_lost AS "isLost",
       s.color AS "color",
       s.created_at AS "createdAt",
       s.updated_at AS "updatedAt"
FROM (SELECT) AS one
LEFT JOIN crm_pipeline_stages s ON s.tenant_id = $1::text
ORDER BY s.position, s.id
