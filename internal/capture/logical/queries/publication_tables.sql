-- publication_tables: the tables publication $1 lists, by oid, with a name DDL accepts.
SELECT pr.prrelid::int8, pr.prrelid::regclass::text
FROM pg_publication p
JOIN pg_publication_rel pr ON pr.prpubid = p.oid
WHERE p.pubname = $1
