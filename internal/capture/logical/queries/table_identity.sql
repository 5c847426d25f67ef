-- table_identity: table $1 (any name ::regclass accepts) and how its UPDATEs and DELETEs
-- identify the old row (its replica identity), and whether that identity holds column $2;
-- then $2 and the name of an index that would hold it, quoted for DDL.
-- No row when the table does not exist.
SELECT c.oid::int8,
       format('%I.%I', n.nspname, c.relname),
       c.relkind::text,
       c.relreplident::text,
       a.attnum IS NOT NULL,
       coalesce(a.attnotnull, false),
       coalesce(a.attnum = ANY (i.indkey::int2[]), false),
       coalesce(i.indexrelid::regclass::text, ''),
       coalesce((SELECT array_agg(quote_ident(ka.attname) ORDER BY k.ord)
                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute ka ON ka.attrelid = c.oid AND ka.attnum = k.attnum), '{}'),
       coalesce((SELECT array_agg(quote_ident(pa.attname) ORDER BY k.ord)
                 FROM pg_index p
                 CROSS JOIN LATERAL unnest(p.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute pa ON pa.attrelid = c.oid AND pa.attnum = k.attnum
                 WHERE p.indrelid = c.oid AND p.indisprimary), '{}'),
       quote_ident($2),
       quote_ident(left(c.relname, 44) || '_cachewarm_identity')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_index i ON i.indrelid = c.oid
     AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
WHERE c.oid = to_regclass($1)
