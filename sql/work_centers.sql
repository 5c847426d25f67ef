-- work_centers: ops:workcenters:{t}:facilityId:{f} -> the work centers of each facility of the
-- tenant, ordered by code; a facility without work centers gets [].
SELECT 'ops:workcenters' AS prefix,
       'facilityId:' || f.id AS suffix,
       coalesce((
           SELECT '[' || string_agg(row_to_json(x)::text, ',' ORDER BY w.code, w.id) || ']'
           FROM work_centers w
           CROSS JOIN LATERAL (
               SELECT w.id::text AS "id",
                      w.tenant_id AS "tenantId",
                      w.facility_id::text AS "facilityId",
                      w.code AS "code",
                      w.name AS "name",
                      w.center_type AS "centerType",
                      w.capacity_per_hour::text AS "capacityPerHour",
                      w.efficiency_pct::text AS "efficiencyPct",
                      w.cost_per_hour::text AS "costPerHour",
                      w.is_active AS "isActive",
                      to_char(w.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
                      to_char(w.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
           ) x
           WHERE w.tenant_id = $1::text AND w.facility_id = f.id
       ), '[]') AS value
FROM facilities f
WHERE f.tenant_id = $1::text
