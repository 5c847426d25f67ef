-- For each facility of the tenant, its active equipment with health score and a derived
-- health status (good from 80, warning from 50, else critical), worst first; [] for a
-- facility without active equipment.
-- phase: medium
-- ttl: AGGREGATE
-- tables: facilities, equipment
-- key: ops:equipment_health:{tenant}:facilityId:{_facility}:status:active
-- value: json
SELECT f.id AS "_facility",
       coalesce((
           SELECT '[' || string_agg(row_to_json(x)::text, ',' ORDER BY e.health_score, e.id) || ']'
           FROM equipment e
           CROSS JOIN LATERAL (
               SELECT e.id::text AS "id",
                      e.tenant_id AS "tenantId",
                      e.facility_id::text AS "facilityId",
                      e.work_center_id::text AS "workCenterId",
                      e.code AS "code",
                      e.name AS "name",
                      e.equipment_type AS "equipmentType",
                      e.manufacturer AS "manufacturer",
                      e.status AS "status",
                      e.health_score::text AS "healthScore",
                      CASE WHEN e.health_score >= 80 THEN 'good'
                           WHEN e.health_score >= 50 THEN 'warning'
                           ELSE 'critical' END AS "healthStatus",
                      e.operating_hours::text AS "operatingHours",
                      to_char(e.installed_on, 'YYYY-MM-DD') AS "installedOn",
                      to_char(e.last_maintenance_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "lastMaintenanceAt",
                      to_char(e.next_maintenance_on, 'YYYY-MM-DD') AS "nextMaintenanceOn"
           ) x
           WHERE e.tenant_id = $1::text AND e.facility_id = f.id AND e.status = 'active'
       ), '[]') AS value
FROM facilities f
WHERE f.tenant_id = $1::text
