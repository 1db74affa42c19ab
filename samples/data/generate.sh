#!/bin/sh
# Regenerates the sample inputs in samples/data/ deterministically (no
# randomness, no clock): the same files on every machine. The outputs are
# committed; run this only after changing it, from anywhere:
#     sh samples/data/generate.sh
# Needs awk and the zstd command-line tool.
#
#   seed-users.jsonl      300 users as DynamoDB JSON lines (the table before a dry run)
#   users.csv             the nightly update: 300 rows, 4 deliberately bad, 2 for users
#                         that do not exist (they fail the job's must_exist condition)
#   users-to-delete.csv   the clean-up: 20 users to delete and 1 row without a key
#   seed-orders.jsonl     120 orders of 40 customers as DynamoDB JSON lines
#   orders.jsonl.zst      the migration: 100 lines in two zstd frames, 4 of them bad
set -eu
cd "$(dirname "$0")"

awk 'BEGIN {
    split("Ada Alan Barbara Claude Donald Edsger Frances Grace John Ken Leslie Margaret Niklaus Radia Tony", names, " ")
    for (i = 1; i <= 300; i++) {
        id = sprintf("u%04d", i)
        name = names[(i * 7) % 15 + 1] " " sprintf("%c", 65 + (i * 11) % 26) "."
        age = 18 + (i * 7) % 60
        active = (i % 10 == 0) ? "false" : "true"
        day = sprintf("2025-%02d-%02dT08:00:00.000Z", (i % 12) + 1, (i % 28) + 1)
        tags = ""
        if (i % 15 == 0) tags = ",\"tags\":{\"SS\":[\"beta\",\"vip\"]}"
        else if (i % 3 == 0) tags = ",\"tags\":{\"SS\":[\"beta\"]}"
        printf "{\"user_id\":{\"S\":\"%s\"},\"email\":{\"S\":\"user%04d@example.com\"},\"name\":{\"S\":\"%s\"},\"age\":{\"N\":\"%d\"},\"active\":{\"BOOL\":%s}%s,\"prefs\":{\"S\":\"{\\\"theme\\\":\\\"light\\\",\\\"emails\\\":true}\"},\"created_at\":{\"S\":\"%s\"},\"updated_at\":{\"S\":\"%s\"},\"version\":{\"N\":\"1\"}}\n", id, i, name, age, active, tags, day, day
    }
}' >seed-users.jsonl

# The nightly update: a birthday for everyone, a few renames and deactivations.
# Columns: id (mapped to user_id by the job), note (ignored by the job).
awk 'BEGIN {
    split("Ada Alan Barbara Claude Donald Edsger Frances Grace John Ken Leslie Margaret Niklaus Radia Tony", names, " ")
    print "id,email,name,age,active,updated_at,note"
    for (i = 1; i <= 300; i++) {
        id = sprintf("u%04d", i)
        name = names[(i * 7) % 15 + 1] " " sprintf("%c", 65 + (i * 11) % 26) "."
        if (i % 20 == 0) name = "\"" name ", Jr.\""
        age = 18 + (i * 7) % 60 + 1
        active = (i % 10 == 0 || i % 25 == 0) ? "false" : "true"
        when = "2026-11-24T02:00:00Z"
        note = (i % 50 == 0) ? "renamed by support" : ""
        if (i == 37) age = "thirty"                  # a bad number
        if (i == 88) id = ""                         # a missing key
        if (i == 142) when = "2026-02-30T02:00:00Z"  # a bad date (no 30 February)
        if (i == 250) id = "u0950"                   # no such user: fails must_exist
        if (i == 251) id = "u0951"                   # no such user: fails must_exist
        if (i == 201) { printf "%s,user%04d@example.com,%s,%s,%s,%s,%s,extra\n", id, i, name, age, active, when, note; continue }  # wrong field count
        printf "%s,user%04d@example.com,%s,%s,%s,%s,%s\n", id, i, name, age, active, when, note
    }
}' >users.csv

awk 'BEGIN {
    print "user_id,reason"
    for (i = 281; i <= 300; i++) {
        printf "u%04d,%s\n", i, (i % 2) ? "account closed" : "GDPR erasure request"
        if (i == 290) print ",no key on this row"
    }
}' >users-to-delete.csv

awk 'function oid(c, k) { return sprintf("01JDX%03dA%017d", c, k) }
BEGIN {
    for (c = 1; c <= 40; c++) for (k = 1; k <= 3; k++) {
        n = (c - 1) * 3 + k
        total = sprintf("%d.%02d", 5 + (n * 37) % 200, (n * 13) % 100)
        sub(/\.?0+$/, "", total)
        status = (k == 3) ? "new" : "paid"
        when = sprintf("2026-%02d-%02dT%02d:15:00.000Z", (n % 10) + 1, (n % 27) + 1, n % 24)
        printf "{\"customer_id\":{\"S\":\"c%03d\"},\"order_id\":{\"S\":\"%s\"},\"total\":{\"N\":\"%s\"},\"currency\":{\"S\":\"EUR\"},\"status\":{\"S\":\"%s\"},\"lines\":{\"L\":[{\"M\":{\"sku\":{\"S\":\"SKU-%03d\"},\"qty\":{\"N\":\"%d\"}}}]},\"gift\":{\"BOOL\":%s},\"placed_at\":{\"S\":\"%s\"},\"placed_epoch\":{\"N\":\"%d\"},\"version\":{\"N\":\"1\"}}\n", c, oid(c, k), total, status, n % 50, 1 + n % 3, (n % 7 == 0) ? "true" : "false", when, 1767225600 + n * 86400
    }
}' >seed-orders.jsonl

# The migration: every paid order gets the new shipping map. Lines 61-100
# go in a second zstd frame (a multi-frame file, as parallel compressors write).
awk 'function oid(c, k) { return sprintf("01JDX%03dA%017d", c, k) }
BEGIN {
    split("Berlin Lisbon Oslo Porto Vienna", cities, " ")
    split("DE PT NO PT AT", countries, " ")
    line = 0
    for (c = 1; c <= 40; c++) for (k = 1; k <= 3; k++) {
        if (k == 3 && c % 4 != 0) continue
        line++
        if (line > 100) break
        x = (c % 5) + 1
        id = oid(c, k)
        cust = sprintf("c%03d", c)
        if (line == 17) { printf "{\"customer_id\":\"%s\",\"order_id\":\"%s\",\"shipping\":{\"carrier\":\"dhl\"\n", cust, id; continue }  # not valid JSON
        if (line == 33) { printf "{\"customer_id\":\"%s\",\"shipping\":{\"carrier\":\"ups\",\"service\":\"express\"}}\n", cust; continue }  # no sort key
        if (line == 58) { printf "{\"customer_id\":\"%s\",\"order_id\":\"%s\",\"total\":\"12,50\"}\n", cust, id; continue }  # a bad number
        if (line == 90) id = oid(99, 1)  # no such order: counted as missing
        printf "{\"customer_id\":\"%s\",\"order_id\":\"%s\",\"shipping\":{\"carrier\":\"%s\",\"service\":\"standard\",\"address\":{\"city\":\"%s\",\"country\":\"%s\"}}}\n", cust, id, (c % 2) ? "dhl" : "ups", cities[x], countries[x]
    }
}' >orders.jsonl.tmp
head -n 60 orders.jsonl.tmp | zstd -q -19 -c >orders.jsonl.zst
tail -n +61 orders.jsonl.tmp | zstd -q -19 -c >>orders.jsonl.zst
rm -f orders.jsonl.tmp
echo "samples/data: $(wc -l <seed-users.jsonl) seed users, $(($(wc -l <users.csv) - 1)) update rows," \
    "$(wc -l <seed-orders.jsonl) seed orders, $(zstd -dc orders.jsonl.zst | wc -l) migration lines"
