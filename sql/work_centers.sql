-- The work centers of each facility of the tenant, ordered by code. A facility without work
-- centers yields one row whose value columns are all NULL, and so [].
-- phase: critical
-- ttl: STATIC
-- tables: facilities, work_centers
-- key: ops:workcenters:{tenant}:facilityId:{_facility}
-- value: list
SELECT f.id AS "_facility",
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
