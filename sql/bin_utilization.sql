-- For each facility of the tenant, an object of bin metrics: bin counts by state (integers),
-- the capacity and used units of its active bins (integers) and their utilization in percent
-- (a numeric string, "0.00" without capacity).
-- phase: medium
-- ttl: AGGREGATE
-- tables: facilities, bins
-- key: wms:bin_utilization:{tenant}:facilityId:{_facility}
-- value: json
SELECT f.id AS "_facility",
       row_to_json(x)::text AS value
FROM facilities f
CROSS JOIN LATERAL (
    SELECT count(*) AS total_n,
           count(*) FILTER (WHERE b.status = 'active') AS active_n,
           count(*) FILTER (WHERE b.status = 'blocked') AS blocked_n,
           count(*) FILTER (WHERE b.status = 'inactive') AS inactive_n,
           count(*) FILTER (WHERE b.status = 'active' AND b.used_units > 0) AS occupied_n,
           count(*) FILTER (WHERE b.status = 'active' AND b.used_units = 0) AS empty_n,
           count(*) FILTER (WHERE b.status = 'active' AND b.used_units >= b.capacity_units) AS full_n,
           coalesce(sum(b.capacity_units) FILTER (WHERE b.status = 'active'), 0) AS capacity_n,
           coalesce(sum(b.used_units) FILTER (WHERE b.status = 'active'), 0) AS used_n
    FROM bins b
    WHERE b.tenant_id = $1::text AND b.facility_id = f.id
) s
CROSS JOIN LATERAL (
    SELECT f.id::text AS "facilityId",
           f.code AS "facilityCode",
           f.name AS "facilityName",
           s.total_n::integer AS "totalBins",
           s.active_n::integer AS "activeBins",
           s.blocked_n::integer AS "blockedBins",
           s.inactive_n::integer AS "inactiveBins",
           s.occupied_n::integer AS "occupiedBins",
           s.empty_n::integer AS "emptyBins",
           s.full_n::integer AS "fullBins",
           s.capacity_n::integer AS "capacityUnits",
           s.used_n::integer AS "usedUnits",
           coalesce(round(100.0 * s.used_n / nullif(s.capacity_n, 0), 2), 0.00)::text AS "utilizationPct"
) x
WHERE f.tenant_id = $1::text
