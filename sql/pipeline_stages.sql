-- The CRM pipeline stages, ordered by position; [] for a tenant without stages.
-- phase: critical
-- ttl: STATIC
-- tables: crm_pipeline_stages
-- key: crm:stages:{tenant}
-- value: list
SELECT s.id AS "id",
       s.tenant_id AS "tenantId",
       s.name AS "name",
       s.position AS "position",
       s.probability AS "probability",
       s.is_won AS "isWon",
       s.is_lost AS "isLost",
       s.color AS "color",
       s.created_at AS "createdAt",
       s.updated_at AS "updatedAt"
FROM crm_pipeline_stages s
WHERE s.tenant_id = $1::text
ORDER BY s.position, s.id
