-- publication: publication $1's options; no row when it does not exist.
SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot
FROM pg_publication
WHERE pubname = $1
