-- work_centers: ops:workcenters:{t}:facilityId:{f} -> the work centers of each facility of the
-- tenant, ordered by code; a facility without work centers gets [].
-- A list of typed rows per facility (catalog.List), one facility after another; a facility
-- without work centers yields one row with NULL work-center columns.
SELECT 'ops:workcenters' AS prefix,
       'facilityId:' || f.id AS suffix,
       w.id AS "id",
       w.tenant_id AS "tenantId",
       w.facility_id AS "facilityId",
       w.code AS "code",
       w.name AS "name",
       w.center_type AS "centerType",
       w.capacity_per_hour AS "capacityPerHour",
       w.efficiency_pct AS "efficiencyPct",
       w.cost_per_hour AS "costPerHour",
       w.is_active AS "isActive",
       w.created_at AS "createdAt",
       w.updated_at AS "updatedAt"
FROM facilities f
LEFT JOIN work_centers w ON w.tenant_id = f.tenant_id AND w.facility_id = f.id
WHERE f.tenant_id = $1::text
ORDER BY f.id, w.code, w.id
