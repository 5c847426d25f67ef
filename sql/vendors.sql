-- The first 500 vendors by id, one key each, and 5 pages of 100 of them (a page past the
-- data is []): the pages are assembled from the same objects, in query order.
-- phase: high
-- ttl: REFERENCE
-- tables: vendors
-- key: sales:vendor:{tenant}:vendorId:{id}
-- value: object
-- pages: sales:vendors:{tenant}:page:{n}:limit:{size} size=100 count=5
SELECT d.id AS "id",
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
