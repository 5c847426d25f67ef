-- vendors: the first 500 vendors by id, one key each, and 5 pages of 100 of them.
--   sales:vendor:{t}:vendorId:{id}     (one object per vendor)
--   sales:vendors:{t}:page:{n}:limit:100 (n = 1..5, always; a page past the data is [])
-- The query yields the items only, in page order, as typed columns: the warmer encodes each
-- as a JSON object (catalog.Objects) and assembles the pages from the same bytes (catalog.Pages).
SELECT 'sales:vendor' AS prefix,
       'vendorId:' || d.id AS suffix,
       d.id AS "id",
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
       d.credit_limit AS "creditLimit",
       d.rating AS "rating",
       d.is_active AS "isActive",
       d.notes AS "notes",
       d.created_at AS "createdAt",
       d.updated_at AS "updatedAt"
FROM vendors d
WHERE d.tenant_id = $1::text
ORDER BY d.id
LIMIT 500
