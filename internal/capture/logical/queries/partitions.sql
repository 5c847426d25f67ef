-- partitions: the leaf partitions of partitioned table $1 (their UPDATEs and DELETEs use their
-- own replica identity), with a name DDL accepts.
SELECT relid::regclass::text
FROM pg_partition_tree(to_regclass($1))
WHERE isleaf
ORDER BY 1
