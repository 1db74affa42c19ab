/*
 * sink.c - a DynamoDB-shaped HTTP/1.1 server that does no work, so that a
 * benchmark measures the client and nothing else (`make bench-peers`).
 *
 * It speaks just enough of DynamoDB's JSON protocol for boto3, the AWS SDK
 * for JavaScript and dynox: POST / with X-Amz-Target DynamoDB_20120810.<Op>,
 * keep-alive connections, Content-Length bodies. Answers:
 *   PutItem, UpdateItem, DeleteItem   {} (ConsumedCapacity when asked)
 *   BatchWriteItem                    {"UnprocessedItems":{}}
 *   GetItem                           the requested key plus nine canned
 *                                     attributes (the bench's built-in model)
 *   BatchGetItem                      {"Responses":{"t":[]},"UnprocessedKeys":{}}
 *   CreateTable, DescribeTable, DeleteTable, Scan, Query   plausible answers
 *                                     (tables are remembered by name, ACTIVE
 *                                     at once)
 * Every answer leaves after --delay-ms, held on a timer (timerfd): thousands
 * of requests wait at once without a thread each, so a client's latency
 * hiding shows. The request signature is not checked.
 *
 * Capacity mode (--wcu N): a token bucket of N write units per second with a
 * burst of --burst-s seconds (default 1 s: a short burst, so that a client's
 * pacing shows after a second; DynamoDB's own burst is up to 300 s) that
 * starts full. Items are charged by DynamoDB's size rules (dx_item_size /
 * dx_write_units on the decoded item; a delete or update costs 1 unit). A
 * BatchWriteItem writes its entries in order while the bucket pays for them
 * and returns the rest in UnprocessedItems; when it pays for none, the
 * answer is 400 ProvisionedThroughputExceededException, as is a single
 * write that does not fit. The keys written are kept in a hash set, so that
 * a Scan with Select COUNT (and GET /__stats) reports the rows in the table.
 * DescribeTable reports the capacity as provisioned unless
 * --no-describe-capacity (then it says PAY_PER_REQUEST, hiding it).
 *
 * GET /__stats returns counters as JSON (requests by operation, throttled
 * and partial answers, units and the utilisation of the capacity after the
 * burst); POST /__reset zeroes them (and refills the bucket).
 *
 * With no arguments (as `make bench` runs every program in bench/) it says
 * what it is for and exits 0.
 *
 * Must never: listen anywhere but the address given (127.0.0.1 by default),
 * or block: one thread, non-blocking sockets, epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "dynox/dynox.h"

#define MAX_CONNS 65536
#define MAX_BODY (32u << 20)
#define TARGET_PREFIX "DynamoDB_20120810."

/* ---------------------------------------------------------------- options */

typedef struct opts {
    const char *host;
    int port;
    double delay_ms;
    double wcu;          /* capacity mode when > 0 */
    double burst_s;
    bool describe_capacity;
    const char *port_file;
} opts;

static opts O = {.host = "127.0.0.1", .burst_s = 1.0, .describe_capacity = true};

/* ---------------------------------------------------------------- state */

typedef struct conn {
    int fd;
    uint32_t gen;
    bool open;
    dx_buf in;       /* bytes read, not yet consumed */
    dx_buf out;      /* bytes to write */
    size_t out_off;
    uint32_t pending; /* answers waiting on the timer */
} conn;

typedef struct delayed {
    uint64_t due_ns;
    int fd;
    uint32_t gen;
    char *resp;
    size_t len;
} delayed;

typedef struct table {
    char *name;
    char *hash, *range;   /* key attribute names */
    char htype[2], rtype[2];
    struct table *next;
} table;

/* A hash set of keys (their DynamoDB JSON text), open addressing. */
typedef struct keyset {
    char **slot;
    size_t cap, n;
} keyset;

typedef struct stats {
    uint64_t requests, by_op[16], throttled, partial, errors;
    uint64_t items_written, items_deleted, items_unprocessed;
    double units;
    uint64_t first_write_ns, last_write_ns;
} stats;

static conn *conns[MAX_CONNS];
static delayed *q;
static size_t qhead, qtail, qcap; /* ring buffer; constant delay keeps it ordered */
static int epfd, tfd, lfd;
static table *tables;
static keyset keys;
static stats st;
static double tokens;
static uint64_t bucket_ns;
static volatile sig_atomic_t quit;

enum { OP_PUT, OP_UPDATE, OP_DELETE, OP_GET, OP_BATCH_WRITE, OP_BATCH_GET, OP_CREATE,
       OP_DESCRIBE, OP_DELETE_TABLE, OP_SCAN, OP_QUERY, OP_OTHER, OP__N };
static const char *const op_names[OP__N] = {"PutItem", "UpdateItem", "DeleteItem", "GetItem",
                                            "BatchWriteItem", "BatchGetItem", "CreateTable",
                                            "DescribeTable", "DeleteTable", "Scan", "Query",
                                            "Other"};

static uint64_t now_ns(void) { return dx_now_ns(); }

/* ---------------------------------------------------------------- key set */

static uint64_t hash_str(const char *s, size_t n) { return dx_hash64(s, n, 0x51c0ffee); }

static bool keyset_grow(keyset *k) {
    size_t cap = k->cap ? k->cap * 2 : 1024;
    char **s = calloc(cap, sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i < k->cap; i++) {
        char *e = k->slot[i];
        if (!e || e == (char *)1) continue;
        size_t j = hash_str(e, strlen(e)) & (cap - 1);
        while (s[j]) j = (j + 1) & (cap - 1);
        s[j] = e;
    }
    free(k->slot);
    k->slot = s;
    k->cap = cap;
    return true;
}

/* Adds (true) or removes (false) key text s. */
static void keyset_apply(keyset *k, const char *s, size_t n, bool add) {
    if (add && (k->n + 1) * 2 > k->cap && !keyset_grow(k)) return;
    if (!k->cap) return;
    size_t j = hash_str(s, n) & (k->cap - 1), tomb = SIZE_MAX;
    while (k->slot[j]) {
        char *e = k->slot[j];
        if (e == (char *)1) {
            if (tomb == SIZE_MAX) tomb = j;
        } else if (strlen(e) == n && memcmp(e, s, n) == 0) {
            if (!add) {
                free(e);
                k->slot[j] = (char *)1; /* tombstone */
                k->n--;
            }
            return;
        }
        j = (j + 1) & (k->cap - 1);
    }
    if (!add) return;
    char *c = malloc(n + 1);
    if (!c) return;
    memcpy(c, s, n);
    c[n] = 0;
    k->slot[tomb != SIZE_MAX ? tomb : j] = c;
    k->n++;
}

static void keyset_clear(keyset *k) {
    for (size_t i = 0; i < k->cap; i++)
        if (k->slot[i] && k->slot[i] != (char *)1) free(k->slot[i]);
    free(k->slot);
    memset(k, 0, sizeof *k);
}

/* ---------------------------------------------------------------- bucket */

static double burst(void) { return O.wcu * O.burst_s; }

static void bucket_refill(void) {
    uint64_t now = now_ns();
    if (bucket_ns == 0) {
        bucket_ns = now;
        tokens = burst();
        return;
    }
    tokens += (double)(now - bucket_ns) / 1e9 * O.wcu;
    bucket_ns = now;
    if (tokens > burst()) tokens = burst();
}

/* ---------------------------------------------------------------- tables */

static table *table_find(const char *name, size_t n) {
    for (table *t = tables; t; t = t->next)
        if (strlen(t->name) == n && memcmp(t->name, name, n) == 0) return t;
    return NULL;
}

/* ---------------------------------------------------------------- responses */

static void resp_ok(dx_buf *out, const char *body, size_t len) {
    dx_buf_printf(out,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                  "x-amzn-RequestId: sink\r\nContent-Length: %zu\r\n\r\n",
                  len);
    dx_buf_append(out, body, len);
}

static void resp_err(dx_buf *out, int status, const char *type, const char *msg) {
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\",\"message\":\"%s\"}", type,
                     msg);
    dx_buf_printf(out,
                  "HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.0\r\n"
                  "x-amzn-RequestId: sink\r\nContent-Length: %d\r\n\r\n%s",
                  status, status == 400 ? "Bad Request" : "Internal Server Error", n, body);
    st.errors++;
}

static void put_capacity(dx_buf *b, const char *tname, size_t tlen, double units, bool batch) {
    dx_buf_puts(b, batch ? "\"ConsumedCapacity\":[{\"TableName\":" : "\"ConsumedCapacity\":{\"TableName\":");
    dx_buf_put_json_str(b, tname, tlen);
    dx_buf_printf(b, ",\"CapacityUnits\":%.1f}%s", units, batch ? "]" : "");
}

static void describe_body(dx_buf *b, const table *t) {
    dx_buf_puts(b, "{\"TableName\":");
    dx_buf_put_json_str(b, t->name, strlen(t->name));
    dx_buf_puts(b, ",\"TableStatus\":\"ACTIVE\",\"KeySchema\":[{\"AttributeName\":");
    dx_buf_put_json_str(b, t->hash, strlen(t->hash));
    dx_buf_puts(b, ",\"KeyType\":\"HASH\"}");
    if (t->range) {
        dx_buf_puts(b, ",{\"AttributeName\":");
        dx_buf_put_json_str(b, t->range, strlen(t->range));
        dx_buf_puts(b, ",\"KeyType\":\"RANGE\"}");
    }
    dx_buf_puts(b, "],\"AttributeDefinitions\":[{\"AttributeName\":");
    dx_buf_put_json_str(b, t->hash, strlen(t->hash));
    dx_buf_printf(b, ",\"AttributeType\":\"%s\"}", t->htype);
    if (t->range) {
        dx_buf_puts(b, ",{\"AttributeName\":");
        dx_buf_put_json_str(b, t->range, strlen(t->range));
        dx_buf_printf(b, ",\"AttributeType\":\"%s\"}", t->rtype);
    }
    bool prov = O.wcu > 0 && O.describe_capacity;
    dx_buf_printf(b,
                  "],\"ItemCount\":%zu,\"TableSizeBytes\":0,\"CreationDateTime\":1700000000,"
                  "\"TableArn\":\"arn:aws:dynamodb:local:000000000000:table/%s\","
                  "\"ProvisionedThroughput\":{\"ReadCapacityUnits\":%.0f,\"WriteCapacityUnits\":%.0f,"
                  "\"NumberOfDecreasesToday\":0}",
                  keys.n, t->name, prov ? O.wcu : 0.0, prov ? O.wcu : 0.0);
    if (!prov) dx_buf_puts(b, ",\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\"}");
    dx_buf_puts(b, "}");
}

/* ---------------------------------------------------------------- requests */

typedef struct req {
    int op;
    const char *body;
    size_t len;
    bool want_capacity;
    dx_str table;
} req;

#define J(x)                                                                               \
    do {                                                                                   \
        if ((x) != DX_OK) goto bad;                                                        \
    } while (0)

/* The key text of an item of table t ({"id":{"S":"x"}} in the order hash, range). */
static bool key_text(const table *t, const dx_value *item, dx_buf *k) {
    dx_buf_clear(k);
    const dx_value *h = t ? dx_map_get(item, t->hash) : NULL;
    if (!h && item->n) h = &item->u.members[0].value; /* unknown table: first attribute */
    if (!h) return false;
    if (dx_encode_value(k, h) != DX_OK) return false;
    if (t && t->range) {
        const dx_value *r = dx_map_get(item, t->range);
        if (r && (!dx_buf_putc(k, '|') || dx_encode_value(k, r) != DX_OK)) return false;
    }
    return true;
}

static dx_arena scratch;
static dx_buf kbuf, body;

/* BatchWriteItem: {"RequestItems":{"t":[{"PutRequest":{"Item":{...}}},...]},...} */
static void batch_write(const req *rq, dx_buf *out) {
    dx_jcur c;
    dx_result r;
    dx_result_clear(&r);
    dx_jcur_init(&c, &scratch, rq->body, rq->len, &r);
    dx_buf_clear(&body);
    bool done, any_table = false;
    size_t written = 0, unprocessed = 0, entries = 0;
    double units = 0;
    dx_str k, tname = {"", 0};
    bool cap_mode = O.wcu > 0;
    if (cap_mode) bucket_refill();
    bool out_of_tokens = false;
    dx_buf un = {0}; /* the UnprocessedItems array */
    J(dx_jcur_obj_begin(&c));
    for (;;) {
        J(dx_jcur_obj_next(&c, &k, &done));
        if (done) break;
        if (!dx_str_eq(k, "RequestItems")) {
            J(dx_jcur_skip(&c));
            continue;
        }
        J(dx_jcur_obj_begin(&c));
        for (;;) {
            J(dx_jcur_obj_next(&c, &tname, &done));
            if (done) break;
            any_table = true;
            const table *t = table_find(tname.ptr, tname.len);
            J(dx_jcur_arr_begin(&c));
            for (;;) {
                J(dx_jcur_arr_next(&c, &done));
                if (done) break;
                dx_jcur_peek(&c);
                const char *start = c.p;
                dx_value item = {0};
                bool is_del = false, have = false;
                dx_str kind;
                J(dx_jcur_obj_begin(&c));
                for (;;) {
                    J(dx_jcur_obj_next(&c, &kind, &done));
                    if (done) break;
                    is_del = dx_str_eq(kind, "DeleteRequest");
                    J(dx_jcur_obj_begin(&c));
                    for (;;) {
                        dx_str f;
                        J(dx_jcur_obj_next(&c, &f, &done));
                        if (done) break;
                        if (dx_str_eq(f, "Item") || dx_str_eq(f, "Key")) {
                            J(dx_jcur_ddb_item(&c, &item));
                            have = true;
                        } else {
                            J(dx_jcur_skip(&c));
                        }
                    }
                }
                const char *end = c.p;
                entries++;
                if (!have) goto bad;
                double cost = is_del ? 1 : dx_write_units(dx_item_size(&item));
                if (cap_mode && (out_of_tokens || tokens < cost)) {
                    out_of_tokens = true;
                    if (un.len) dx_buf_putc(&un, ',');
                    dx_buf_append(&un, start, (size_t)(end - start));
                    unprocessed++;
                    continue;
                }
                if (cap_mode) {
                    tokens -= cost;
                    if (key_text(t, &item, &kbuf)) keyset_apply(&keys, kbuf.ptr, kbuf.len, !is_del);
                }
                units += cost;
                written++;
                if (is_del) st.items_deleted++;
                else st.items_written++;
            }
        }
    }
    if (!any_table || entries == 0) {
        resp_err(out, 400, "ValidationException", "RequestItems is empty");
        dx_buf_free(&un);
        return;
    }
    st.items_unprocessed += unprocessed;
    if (cap_mode && written == 0) {
        st.throttled++;
        resp_err(out, 400, "ProvisionedThroughputExceededException",
                 "The level of configured provisioned throughput for the table was exceeded. "
                 "Consider increasing your provisioning level with the UpdateTable API.");
        dx_buf_free(&un);
        return;
    }
    if (unprocessed) st.partial++;
    uint64_t now = now_ns();
    if (!st.first_write_ns) st.first_write_ns = now;
    st.last_write_ns = now;
    st.units += units;
    dx_buf_puts(&body, "{\"UnprocessedItems\":{");
    if (unprocessed) {
        dx_buf_put_json_str(&body, tname.ptr, tname.len);
        dx_buf_putc(&body, ':');
        dx_buf_putc(&body, '[');
        dx_buf_append(&body, un.ptr, un.len);
        dx_buf_putc(&body, ']');
    }
    dx_buf_putc(&body, '}');
    if (rq->want_capacity) {
        dx_buf_putc(&body, ',');
        put_capacity(&body, tname.ptr, tname.len, units, true);
    }
    dx_buf_putc(&body, '}');
    resp_ok(out, body.ptr, body.len);
    dx_buf_free(&un);
    return;
bad:
    dx_buf_free(&un);
    resp_err(out, 400, "SerializationException", "could not parse the BatchWriteItem body");
}

/* Scans the top level of a body for the keys the simple operations need. */
typedef struct top {
    dx_str table, item_raw, key_raw, select;
    bool capacity;
    dx_value item, key;
    bool has_item, has_key;
    /* CreateTable */
    dx_str hash, range, htype, rtype;
} top;

/*
 * An array of {"AttributeName": ..., <second>: ...} objects (KeySchema with
 * KeyType, AttributeDefinitions with AttributeType): the first 8 pairs into
 * names/vals, their count into *n.
 */
static bool parse_name_pairs(dx_jcur *c, const char *second, dx_str *names, dx_str *vals,
                             size_t *n) {
    bool done;
    *n = 0;
    if (dx_jcur_arr_begin(c)) return false;
    for (;;) {
        if (dx_jcur_arr_next(c, &done)) return false;
        if (done) return true;
        dx_str name = {0}, val = {0}, k;
        if (dx_jcur_obj_begin(c)) return false;
        for (;;) {
            if (dx_jcur_obj_next(c, &k, &done)) return false;
            if (done) break;
            if (dx_str_eq(k, "AttributeName")) {
                if (dx_jcur_string(c, &name)) return false;
            } else if (dx_str_eq(k, second)) {
                if (dx_jcur_string(c, &val)) return false;
            } else if (dx_jcur_skip(c)) {
                return false;
            }
        }
        if (*n < 8) {
            names[*n] = name;
            vals[*n] = val;
            (*n)++;
        }
    }
}

static bool parse_top(const req *rq, top *t) {
    memset(t, 0, sizeof *t);
    dx_jcur c;
    dx_result r;
    dx_result_clear(&r);
    dx_jcur_init(&c, &scratch, rq->body, rq->len, &r);
    bool done;
    dx_str k;
    dx_str names[8], types[8];
    size_t nd = 0;
    if (dx_jcur_obj_begin(&c)) return false;
    for (;;) {
        if (dx_jcur_obj_next(&c, &k, &done)) return false;
        if (done) break;
        if (dx_str_eq(k, "TableName")) {
            if (dx_jcur_string(&c, &t->table)) return false;
        } else if (dx_str_eq(k, "ReturnConsumedCapacity")) {
            dx_str v;
            if (dx_jcur_string(&c, &v)) return false;
            t->capacity = !dx_str_eq(v, "NONE");
        } else if (dx_str_eq(k, "Select")) {
            if (dx_jcur_string(&c, &t->select)) return false;
        } else if (dx_str_eq(k, "Item") || dx_str_eq(k, "Key")) {
            bool is_item = k.ptr[0] == 'I';
            dx_jcur_peek(&c);
            const char *s = c.p;
            if (dx_jcur_ddb_item(&c, is_item ? &t->item : &t->key)) return false;
            dx_str raw = {s, (size_t)(c.p - s)};
            if (is_item) {
                t->item_raw = raw;
                t->has_item = true;
            } else {
                t->key_raw = raw;
                t->has_key = true;
            }
        } else if (dx_str_eq(k, "KeySchema")) {
            dx_str kn[8], kt[8];
            size_t nk;
            if (!parse_name_pairs(&c, "KeyType", kn, kt, &nk)) return false;
            for (size_t i = 0; i < nk; i++) {
                if (dx_str_eq(kt[i], "HASH")) t->hash = kn[i];
                else if (dx_str_eq(kt[i], "RANGE")) t->range = kn[i];
            }
        } else if (dx_str_eq(k, "AttributeDefinitions")) {
            if (!parse_name_pairs(&c, "AttributeType", names, types, &nd)) return false;
        } else if (dx_jcur_skip(&c)) {
            return false;
        }
    }
    for (size_t i = 0; i < nd; i++) {
        if (t->hash.len && names[i].len == t->hash.len && memcmp(names[i].ptr, t->hash.ptr, t->hash.len) == 0)
            t->htype = types[i];
        if (t->range.len && names[i].len == t->range.len && memcmp(names[i].ptr, t->range.ptr, t->range.len) == 0)
            t->rtype = types[i];
    }
    return true;
}

static char *dupn(dx_str s) {
    char *p = malloc(s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = 0;
    }
    return p;
}

/* The canned attributes GetItem adds to the key (the bench's built-in model). */
static const char canned[] =
    "\"name\":{\"S\":\"user-0000042\"},\"email\":{\"S\":\"user0000042@example.com\"},"
    "\"age\":{\"N\":\"42\"},\"score\":{\"N\":\"1234.5\"},\"active\":{\"BOOL\":true},"
    "\"country\":{\"S\":\"DE\"},\"plan\":{\"S\":\"standard\"},"
    "\"created_at\":{\"S\":\"2026-01-02T03:04:05.678Z\"},\"version\":{\"N\":\"1\"}";

static void simple_op(const req *rq, dx_buf *out) {
    top t;
    if (!parse_top(rq, &t)) {
        resp_err(out, 400, "SerializationException", "could not parse the request body");
        return;
    }
    dx_buf_clear(&body);
    const table *tb = table_find(t.table.ptr, t.table.len);
    switch (rq->op) {
    case OP_PUT:
    case OP_UPDATE:
    case OP_DELETE: {
        double cost = 1;
        if (rq->op == OP_PUT && t.has_item) cost = dx_write_units(dx_item_size(&t.item));
        if (O.wcu > 0) {
            bucket_refill();
            if (tokens < cost) {
                st.throttled++;
                resp_err(out, 400, "ProvisionedThroughputExceededException",
                         "The level of configured provisioned throughput for the table was "
                         "exceeded. Consider increasing your provisioning level with the "
                         "UpdateTable API.");
                return;
            }
            tokens -= cost;
            const dx_value *kv = rq->op == OP_PUT ? (t.has_item ? &t.item : NULL) : (t.has_key ? &t.key : NULL);
            if (kv && key_text(tb, kv, &kbuf)) keyset_apply(&keys, kbuf.ptr, kbuf.len, rq->op != OP_DELETE);
        }
        uint64_t now = now_ns();
        if (!st.first_write_ns) st.first_write_ns = now;
        st.last_write_ns = now;
        st.units += cost;
        if (rq->op == OP_DELETE) st.items_deleted++;
        else st.items_written++;
        dx_buf_putc(&body, '{');
        if (t.capacity) put_capacity(&body, t.table.ptr, t.table.len, cost, false);
        dx_buf_putc(&body, '}');
        break;
    }
    case OP_GET:
        if (!t.has_key || t.key_raw.len < 2) {
            resp_err(out, 400, "ValidationException", "GetItem needs a Key");
            return;
        }
        dx_buf_puts(&body, "{\"Item\":");
        dx_buf_append(&body, t.key_raw.ptr, t.key_raw.len - 1); /* without its '}' */
        if (t.key_raw.len > 2) dx_buf_putc(&body, ',');
        dx_buf_puts(&body, canned);
        dx_buf_putc(&body, '}');
        if (t.capacity) {
            dx_buf_putc(&body, ',');
            put_capacity(&body, t.table.ptr, t.table.len, 0.5, false);
        }
        dx_buf_putc(&body, '}');
        break;
    case OP_BATCH_GET:
        dx_buf_puts(&body, "{\"Responses\":{},\"UnprocessedKeys\":{}}");
        break;
    case OP_CREATE: {
        if (!t.table.len || !t.hash.len) {
            resp_err(out, 400, "ValidationException", "CreateTable needs TableName and KeySchema");
            return;
        }
        if (tb) {
            resp_err(out, 400, "ResourceInUseException", "Table already exists");
            return;
        }
        table *nt = calloc(1, sizeof *nt);
        if (!nt) return;
        nt->name = dupn(t.table);
        nt->hash = dupn(t.hash);
        nt->range = t.range.len ? dupn(t.range) : NULL;
        nt->htype[0] = t.htype.len ? t.htype.ptr[0] : 'S';
        nt->rtype[0] = t.rtype.len ? t.rtype.ptr[0] : 'S';
        nt->next = tables;
        tables = nt;
        dx_buf_puts(&body, "{\"TableDescription\":");
        describe_body(&body, nt);
        dx_buf_putc(&body, '}');
        break;
    }
    case OP_DESCRIBE:
        if (!tb) {
            resp_err(out, 400, "ResourceNotFoundException", "Requested resource not found");
            return;
        }
        dx_buf_puts(&body, "{\"Table\":");
        describe_body(&body, tb);
        dx_buf_putc(&body, '}');
        break;
    case OP_DELETE_TABLE: {
        table **pp = &tables;
        while (*pp && *pp != tb) pp = &(*pp)->next;
        if (!tb || !*pp) {
            resp_err(out, 400, "ResourceNotFoundException", "Requested resource not found");
            return;
        }
        dx_buf_puts(&body, "{\"TableDescription\":");
        describe_body(&body, tb);
        dx_buf_putc(&body, '}');
        *pp = tb->next;
        free(tb->name);
        free(tb->hash);
        free(tb->range);
        free((void *)tb);
        keyset_clear(&keys);
        break;
    }
    case OP_SCAN:
    case OP_QUERY:
        if (!tb) {
            resp_err(out, 400, "ResourceNotFoundException", "Requested resource not found");
            return;
        }
        if (dx_str_eq(t.select, "COUNT")) {
            dx_buf_printf(&body, "{\"Count\":%zu,\"ScannedCount\":%zu}", keys.n, keys.n);
        } else {
            dx_buf_puts(&body, "{\"Items\":[],\"Count\":0,\"ScannedCount\":0}");
        }
        break;
    default:
        resp_err(out, 400, "UnknownOperationException", "the sink does not know this operation");
        return;
    }
    resp_ok(out, body.ptr, body.len);
}

static void stats_json(dx_buf *b) {
    dx_buf_printf(b, "{\"requests\":%" PRIu64 ",\"by_op\":{", st.requests);
    bool first = true;
    for (int i = 0; i < OP__N; i++) {
        if (!st.by_op[i]) continue;
        dx_buf_printf(b, "%s\"%s\":%" PRIu64, first ? "" : ",", op_names[i], st.by_op[i]);
        first = false;
    }
    double span = st.last_write_ns > st.first_write_ns
                      ? (double)(st.last_write_ns - st.first_write_ns) / 1e9 : 0;
    double util = 0;
    if (O.wcu > 0 && span > 0) util = (st.units - burst()) / (O.wcu * span);
    dx_buf_printf(b,
                  "},\"throttled\":%" PRIu64 ",\"partial\":%" PRIu64 ",\"errors\":%" PRIu64
                  ",\"items_written\":%" PRIu64 ",\"items_deleted\":%" PRIu64
                  ",\"items_unprocessed\":%" PRIu64 ",\"units\":%.1f,\"rows\":%zu"
                  ",\"write_span_s\":%.6f,\"wcu\":%.1f,\"burst_units\":%.1f,\"utilisation\":%.6f"
                  ",\"delay_ms\":%.3f}",
                  st.throttled, st.partial, st.errors, st.items_written, st.items_deleted,
                  st.items_unprocessed, st.units, keys.n, span, O.wcu, burst(), util, O.delay_ms);
}

/* Handles one complete request; appends the response to out. */
static void handle(const char *method, const char *path, const char *target, size_t tlen,
                   const char *b, size_t blen, dx_buf *out) {
    dx_arena_reset(&scratch);
    if (strcmp(method, "GET") == 0 && strcmp(path, "/__stats") == 0) {
        dx_buf_clear(&body);
        stats_json(&body);
        resp_ok(out, body.ptr, body.len);
        return;
    }
    if (strcmp(method, "POST") == 0 && strcmp(path, "/__reset") == 0) {
        memset(&st, 0, sizeof st);
        bucket_ns = 0;
        resp_ok(out, "{}", 2);
        return;
    }
    st.requests++;
    req rq = {.op = OP_OTHER, .body = b, .len = blen};
    size_t pl = strlen(TARGET_PREFIX);
    if (tlen > pl && strncmp(target, TARGET_PREFIX, pl) == 0) {
        for (int i = 0; i < OP_OTHER; i++) {
            if (strlen(op_names[i]) == tlen - pl && memcmp(op_names[i], target + pl, tlen - pl) == 0) {
                rq.op = i;
                break;
            }
        }
    }
    st.by_op[rq.op]++;
    if (rq.op == OP_BATCH_WRITE) {
        rq.want_capacity = blen > 0 && memmem(b, blen, "\"ReturnConsumedCapacity\"", 24) &&
                           !memmem(b, blen, "\"NONE\"", 6);
        batch_write(&rq, out);
    } else {
        simple_op(&rq, out);
    }
}

/* ---------------------------------------------------------------- I/O */

static void conn_close(conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->open = false;
    c->gen++;
    dx_buf_free(&c->in);
    dx_buf_free(&c->out);
    c->out_off = 0;
    c->pending = 0;
}

static void conn_flush(conn *c) {
    while (c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = c->fd};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        conn_close(c);
        return;
    }
    if (c->out_off) {
        bool was_blocked = c->out_off < c->out.len;
        (void)was_blocked;
        dx_buf_clear(&c->out);
        c->out_off = 0;
    }
}

static void timer_arm(void) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (qhead != qtail) {
        uint64_t due = q[qhead % qcap].due_ns;
        its.it_value.tv_sec = (time_t)(due / 1000000000u);
        its.it_value.tv_nsec = (long)(due % 1000000000u);
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec) its.it_value.tv_nsec = 1;
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static bool q_push(delayed d) {
    if (qtail - qhead == qcap) {
        size_t cap = qcap ? qcap * 2 : 4096;
        delayed *n = malloc(cap * sizeof *n);
        if (!n) return false;
        for (size_t i = qhead; i < qtail; i++) n[i - qhead] = q[i % qcap];
        qtail -= qhead;
        qhead = 0;
        free(q);
        q = n;
        qcap = cap;
    }
    bool was_empty = qhead == qtail;
    q[qtail++ % qcap] = d;
    if (was_empty) timer_arm();
    return true;
}

static void q_run(void) {
    uint64_t now = now_ns();
    bool popped = false;
    while (qhead != qtail && q[qhead % qcap].due_ns <= now) {
        delayed d = q[qhead++ % qcap];
        popped = true;
        conn *c = d.fd >= 0 && d.fd < MAX_CONNS ? conns[d.fd] : NULL;
        if (c && c->open && c->gen == d.gen) {
            dx_buf_append(&c->out, d.resp, d.len);
            c->pending--;
            conn_flush(c);
        }
        free(d.resp);
    }
    if (qhead == qtail) qhead = qtail = 0;
    if (popped) timer_arm();
}

/* Finds "\r\n\r\n"; parses the request line and the headers we need. */
static void conn_read(conn *c) {
    /* Level-triggered: one read per event; what is left wakes epoll again. */
    if (!dx_buf_reserve(&c->in, 65536)) {
        conn_close(c);
        return;
    }
    ssize_t n = read(c->fd, c->in.ptr + c->in.len, c->in.cap - c->in.len - 1);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
        conn_close(c);
        return;
    }
    if (n < 0) return;
    c->in.len += (size_t)n;
    c->in.ptr[c->in.len] = 0;
    size_t off = 0;
    dx_buf resp = {0};
    while (c->open) {
        char *p = c->in.ptr + off;
        size_t avail = c->in.len - off;
        char *hend = avail >= 4 ? memmem(p, avail, "\r\n\r\n", 4) : NULL;
        if (!hend) break;
        size_t hlen = (size_t)(hend - p) + 4;
        char method[16] = "", path[256] = "";
        if (sscanf(p, "%15s %255s", method, path) != 2) {
            conn_close(c);
            break;
        }
        size_t clen = 0;
        const char *target = "";
        size_t tlen = 0;
        bool expect = false;
        for (char *line = memchr(p, '\n', hlen); line && line < hend; line = memchr(line + 1, '\n', (size_t)(hend - line))) {
            char *l = line + 1;
            char *eol = memchr(l, '\r', (size_t)(hend + 2 - l));
            if (!eol) break;
            size_t ll = (size_t)(eol - l);
            if (ll > 15 && strncasecmp(l, "content-length:", 15) == 0) {
                clen = strtoul(l + 15, NULL, 10);
            } else if (ll > 13 && strncasecmp(l, "x-amz-target:", 13) == 0) {
                target = l + 13;
                while (*target == ' ') target++;
                tlen = (size_t)(eol - target);
                while (tlen && target[tlen - 1] == ' ') tlen--;
            } else if (ll >= 7 && strncasecmp(l, "expect:", 7) == 0) {
                expect = memmem(l, ll, "100-continue", 12) != NULL;
            }
        }
        if (clen > MAX_BODY) {
            conn_close(c);
            break;
        }
        if (avail < hlen + clen) {
            if (expect && avail == hlen) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                dx_buf_append(&c->out, cont, sizeof cont - 1);
                conn_flush(c);
            }
            break;
        }
        dx_buf_clear(&resp);
        handle(method, path, target, tlen, p + hlen, clen, &resp);
        off += hlen + clen;
        if (O.delay_ms > 0 && strncmp(path, "/__", 3) != 0) {
            delayed d = {.due_ns = now_ns() + (uint64_t)(O.delay_ms * 1e6), .fd = c->fd,
                         .gen = c->gen, .resp = resp.ptr, .len = resp.len};
            if (q_push(d)) {
                resp.ptr = NULL;
                resp.len = resp.cap = 0;
                c->pending++;
                continue;
            }
        }
        dx_buf_append(&c->out, resp.ptr, resp.len);
    }
    dx_buf_free(&resp);
    if (c->open) {
        if (off) {
            memmove(c->in.ptr, c->in.ptr + off, c->in.len - off);
            c->in.len -= off;
        }
        conn_flush(c);
    }
}

static void on_accept(void) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (fd >= MAX_CONNS) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = conns[fd];
        if (!c) {
            c = calloc(1, sizeof *c);
            if (!c) {
                close(fd);
                continue;
            }
            conns[fd] = c;
        }
        c->fd = fd;
        c->open = true;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void on_quit(int sig) {
    (void)sig;
    quit = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "Usage: sink --port N [--host ADDR] [--delay-ms D] [--wcu N [--burst-s S]\n"
            "            [--no-describe-capacity]] [--port-file FILE]\n"
            "\n"
            "A DynamoDB-shaped HTTP server that answers success after D ms (default 0), for\n"
            "measuring clients (make bench-peers). --port 0 picks a free port; the port is\n"
            "printed on stdout (\"port N\") and written to --port-file. --wcu enforces a\n"
            "write capacity of N units/s with a burst of S seconds (default 1). GET /__stats\n"
            "returns counters; POST /__reset zeroes them. Stops on SIGTERM or SIGINT.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        printf("sink: the DynamoDB-shaped server of `make bench-peers`; nothing to measure on its "
               "own (sink --help)\n");
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--port") == 0 && v) {
            O.port = atoi(v);
            i++;
        } else if (strcmp(a, "--host") == 0 && v) {
            O.host = v;
            i++;
        } else if (strcmp(a, "--delay-ms") == 0 && v) {
            O.delay_ms = atof(v);
            i++;
        } else if (strcmp(a, "--wcu") == 0 && v) {
            O.wcu = atof(v);
            i++;
        } else if (strcmp(a, "--burst-s") == 0 && v) {
            O.burst_s = atof(v);
            i++;
        } else if (strcmp(a, "--port-file") == 0 && v) {
            O.port_file = v;
            i++;
        } else if (strcmp(a, "--no-describe-capacity") == 0) {
            O.describe_capacity = false;
        } else {
            fprintf(stderr, "sink: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_quit;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port)};
    if (inet_pton(AF_INET, O.host, &sin.sin_addr) != 1) {
        fprintf(stderr, "sink: --host %s is not an IPv4 address\n", O.host);
        return 2;
    }
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 4096) != 0) {
        fprintf(stderr, "sink: cannot listen on %s:%d: %s\n", O.host, O.port, strerror(errno));
        return 1;
    }
    socklen_t sl = sizeof sin;
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    int port = ntohs(sin.sin_port);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = tfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev);
    if (O.port_file) {
        FILE *f = fopen(O.port_file, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
        }
    }
    printf("port %d\n", port);
    fflush(stdout);

    struct epoll_event evs[256];
    while (!quit) {
        int n = epoll_wait(epfd, evs, 256, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                on_accept();
            } else if (fd == tfd) {
                uint64_t x;
                ssize_t r = read(tfd, &x, sizeof x);
                (void)r;
                q_run();
            } else {
                conn *c = fd < MAX_CONNS ? conns[fd] : NULL;
                if (!c || !c->open) continue;
                if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                    conn_close(c);
                    continue;
                }
                if (evs[i].events & EPOLLOUT) {
                    conn_flush(c);
                    if (c->open && c->out.len == 0) {
                        struct epoll_event e2 = {.events = EPOLLIN, .data.fd = fd};
                        epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e2);
                    }
                }
                if (c->open && (evs[i].events & EPOLLIN)) conn_read(c);
            }
        }
        q_run();
    }
    for (int fd = 0; fd < MAX_CONNS; fd++) {
        if (!conns[fd]) continue;
        if (conns[fd]->open) conn_close(conns[fd]);
        free(conns[fd]);
    }
    while (qhead != qtail) free(q[qhead++ % qcap].resp);
    free(q);
    while (tables) {
        table *t = tables;
        tables = t->next;
        free(t->name);
        free(t->hash);
        free(t->range);
        free(t);
    }
    keyset_clear(&keys);
    dx_arena_release(&scratch);
    dx_buf_free(&kbuf);
    dx_buf_free(&body);
    close(tfd);
    close(epfd);
    close(lfd);
    return 0;
}
