-- resolve_tables: the oid of each table named in $1 (any name ::regclass accepts); null for a
-- table that does not exist.
SELECT t.name, to_regclass(t.name)::int8
FROM unnest($1::text[]) AS t(name)
