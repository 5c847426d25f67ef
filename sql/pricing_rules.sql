-- The active pricing rules in force today (UTC): valid_from <= today and valid_to null or
-- >= today, ordered by priority then id.
-- phase: high
-- ttl: REFERENCE
-- tables: pricing_rules
-- key: sales:pricing:{tenant}:effective:current
-- value: json
SELECT coalesce('[' || string_agg(row_to_json(x)::text, ',' ORDER BY r.priority, r.id) || ']', '[]') AS value
FROM pricing_rules r
CROSS JOIN LATERAL (
    SELECT r.id::text AS "id",
           r.tenant_id AS "tenantId",
           r.name AS "name",
           r.rule_type AS "ruleType",
           r.material_id::text AS "materialId",
           r.customer_id::text AS "customerId",
           r.min_quantity::text AS "minQuantity",
           r.value::text AS "value",
           r.currency AS "currency",
           r.priority AS "priority",
           to_char(r.valid_from, 'YYYY-MM-DD') AS "validFrom",
           to_char(r.valid_to, 'YYYY-MM-DD') AS "validTo",
           r.is_active AS "isActive",
           to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
           to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
) x
WHERE r.tenant_id = $1::text
  AND r.is_active
  AND r.valid_from <= (now() AT TIME ZONE 'UTC')::date
  AND (r.valid_to IS NULL OR r.valid_to >= (now() AT TIME ZONE 'UTC')::date)
