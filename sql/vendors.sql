-- vendors: the first 500 vendors by id, one key each, and 5 pages of 100 of them.
--   sales:vendor:{t}:vendorId:{id}     (one object per vendor)
--   sales:vendors:{t}:page:{n}:limit:100 (n = 1..5, always; a page past the data is [])
-- The query yields the items only, in page order: the warmer assembles the pages from the same
-- JSON as it streams by (catalog.Pages), so Postgres builds each object once and sends it once.
SELECT 'sales:vendor' AS prefix,
       'vendorId:' || d.id AS suffix,
       row_to_json(x)::text AS value
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
