-- materials: the first 1000 materials by id, as ten pages and one key each.
--   sales:materials:{t}:page:{n}:limit:100 (n = 1..10, always; a page past the data is [])
--   sales:material:{t}:materialId:{id}     (one object per material)
WITH m AS (
    SELECT d.id, row_to_json(x)::text AS j
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
), numbered AS (
    SELECT id, j, row_number() OVER (ORDER BY id) AS rn FROM m
)
SELECT 'sales:materials' AS prefix,
       'page:' || p.n || ':limit:100' AS suffix,
       coalesce((
           SELECT '[' || string_agg(j, ',' ORDER BY rn) || ']'
           FROM numbered
           WHERE rn > (p.n - 1) * 100 AND rn <= p.n * 100
       ), '[]') AS value
FROM generate_series(1, 10) AS p(n)
UNION ALL
SELECT 'sales:material', 'materialId:' || id, j
FROM numbered
