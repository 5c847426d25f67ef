-- materials: the first 1000 materials by id, one key each, and 10 pages of 100 of them.
--   sales:material:{t}:materialId:{id}     (one object per material)
--   sales:materials:{t}:page:{n}:limit:100 (n = 1..10, always; a page past the data is [])
-- The query yields the items only, in page order, as typed columns: the warmer encodes each
-- as a JSON object (catalog.Objects) and assembles the pages from the same bytes (catalog.Pages).
SELECT 'sales:material' AS prefix,
       'materialId:' || d.id AS suffix,
       d.id AS "id",
       d.tenant_id AS "tenantId",
       d.sku AS "sku",
       d.name AS "name",
       d.description AS "description",
       d.category AS "category",
       d.uom AS "uom",
       d.standard_cost AS "standardCost",
       d.list_price AS "listPrice",
       d.weight_kg AS "weightKg",
       d.is_stocked AS "isStocked",
       d.is_active AS "isActive",
       d.notes AS "notes",
       d.created_at AS "createdAt",
       d.updated_at AS "updatedAt"
FROM materials d
WHERE d.tenant_id = $1::text
ORDER BY d.id
LIMIT 1000
