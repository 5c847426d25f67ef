-- The first 1000 materials by id, one key each, and 10 pages of 100 of them (a page past the
-- data is []): the pages are assembled from the same objects, in query order.
-- phase: high
-- ttl: REFERENCE
-- tables: materials
-- key: sales:material:{tenant}:materialId:{id}
-- value: object
-- pages: sales:materials:{tenant}:page:{n}:limit:{size} size=100 count=10
SELECT d.id AS "id",
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
