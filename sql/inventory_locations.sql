-- The inventory locations of each facility of the tenant, ordered by code; [] for a facility
-- without locations. The value is built as JSON text in SQL.
-- phase: high
-- ttl: REFERENCE
-- tables: facilities, inventory_locations
-- key: wms:locations:{tenant}:facilityId:{_facility}
-- value: json
SELECT f.id AS "_facility",
       coalesce((
           SELECT '[' || string_agg(row_to_json(x)::text, ',' ORDER BY l.code, l.id) || ']'
           FROM inventory_locations l
           CROSS JOIN LATERAL (
               SELECT l.id::text AS "id",
                      l.tenant_id AS "tenantId",
                      l.facility_id::text AS "facilityId",
                      l.code AS "code",
                      l.name AS "name",
                      l.location_type AS "locationType",
                      l.parent_id::text AS "parentId",
                      l.is_pickable AS "isPickable",
                      l.is_active AS "isActive",
                      to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
                      to_char(l.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt"
           ) x
           WHERE l.tenant_id = $1::text AND l.facility_id = f.id
       ), '[]') AS value
FROM facilities f
WHERE f.tenant_id = $1::text
