-- The active tenants: a query returning their ids, one column. A change to the tables below
-- is how a tenant comes (it is warmed whole) and goes (its keys are removed).
-- tables: tenants
-- tenant-column: id
SELECT id FROM tenants WHERE active
