-- materials: the first 1000 materials by id, one key each, and 10 pages of 100 of them.
--   sales:material:{t}:materialId:{id}     (one object per material)
--   sales:materials:{t}:page:{n}:limit:100 (n = 1..10, always; a page past the data is [])
-- The query yields the items only, in page order: the warmer assembles the pages from the same
-- JSON as it streams by (catalog.Pages), so Postgres builds each object once and sends it once.
SELECT 'sales:material' AS prefix,
       'materialId:' || d.id AS suffix,
       row_to_json(x)::text AS value
FROM materials d
CROSS JOIN LATERAL (
    SELECT d.id::text AS "id",
           d.tenant_id AS "tenantId",
           d.sku AS "sku",
           d.name AS "name",
           d.description AS "description",
           d.category AS "category",
           d.uom AS "uom",
           d.standard_cost::text AS "standardCost",
           d.list_price::text AS "listPrice",
           d.weight_kg::text AS "weightKg",
           d.is_stocked AS "isStocked",
           d.is_active AS "isActive",
           d.notes AS "notes",
           to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
           to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
) x
WHERE d.tenant_id = $1::text
ORDER BY d.id
LIMIT 1000
