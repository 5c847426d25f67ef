-- vendors: the first 500 vendors by id, as five pages and one key each.
--   sales:vendors:{t}:page:{n}:limit:100 (n = 1..5, always; a page past the data is [])
--   sales:vendor:{t}:vendorId:{id}       (one object per vendor)
WITH v AS (
    SELECT d.id, row_to_json(x)::text AS j
    FROM vendors d
    CROSS JOIN LATERAL (
        SELECT d.id::text AS "id",
               d.tenant_id AS "tenantId",
               d.code AS "code",
               d.name AS "name",
               d.legal_name AS "legalName",
               d.tax_id AS "taxId",
               d.email AS "email",
               d.phone AS "phone",
               d.country AS "country",
               d.currency AS "currency",
               d.payment_terms_days AS "paymentTermsDays",
               d.credit_limit::text AS "creditLimit",
               d.rating AS "rating",
               d.is_active AS "isActive",
               d.notes AS "notes",
               to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
               to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
    ) x
    WHERE d.tenant_id = $1::text
    ORDER BY d.id
    LIMIT 500
), numbered AS (
    SELECT id, j, row_number() OVER (ORDER BY id) AS rn FROM v
)
SELECT 'sales:vendors' AS prefix,
       'page:' || p.n || ':limit:100' AS suffix,
       coalesce((
           SELECT '[' || string_agg(j, ',' ORDER BY rn) || ']'
           FROM numbered
           WHERE rn > (p.n - 1) * 100 AND rn <= p.n * 100
       ), '[]') AS value
FROM generate_series(1, 5) AS p(n)
UNION ALL
SELECT 'sales:vendor', 'vendorId:' || id, j
FROM numbered
