-- The kit definitions ordered by code, each with its components (ordered by line number,
-- with the material's SKU and name) as a "components" array.
-- phase: high
-- ttl: REFERENCE
-- tables: kit_definitions, kit_components, materials
-- key: sales:kits:{tenant}
-- value: json
SELECT coalesce('[' || string_agg(row_to_json(x)::text, ',' ORDER BY k.code, k.id) || ']', '[]') AS value
FROM kit_definitions k
CROSS JOIN LATERAL (
    SELECT k.id::text AS "id",
           k.tenant_id AS "tenantId",
           k.code AS "code",
           k.name AS "name",
           k.description AS "description",
           k.kit_price::text AS "kitPrice",
           k.is_active AS "isActive",
           to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
           to_char(k.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt",
           coalesce((
               SELECT '[' || string_agg(row_to_json(y)::text, ',' ORDER BY c.line_no) || ']'
               FROM kit_components c
               LEFT JOIN materials m ON m.tenant_id = c.tenant_id AND m.id = c.material_id
               CROSS JOIN LATERAL (
                   SELECT c.line_no AS "lineNo",
                          c.material_id::text AS "materialId",
                          m.sku AS "materialSku",
                          m.name AS "materialName",
                          c.quantity::text AS "quantity",
                          c.is_optional AS "isOptional"
               ) y
               WHERE c.tenant_id = $1::text AND c.kit_id = k.id
           ), '[]')::json AS "components"
) x
WHERE k.tenant_id = $1::text
