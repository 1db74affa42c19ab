/*
 * sigv4.c - AWS Signature Version 4: canonical request, string to sign,
 * signing key, signature, Authorization header; a signer that caches derived
 * keys; and the signed header set of a DynamoDB request.
 *
 * DESIGN
 * Each stage is a public function over plain inputs (see sigv4.h), so the
 * AWS test suite can check each one byte for byte; dx_sigv4_sign() only
 * strings them together. The request time is an X-Amz-Date string passed
 * in: nothing here reads a clock, which is what makes the stages
 * reproducible.
 *
 * Secrets. The secret key, the intermediate HMAC keys and the derived
 * signing key live in fixed-size stack arrays or in buffers we allocate
 * ourselves, and every one is wiped with dx_memwipe() before it goes out of
 * scope or is freed. Output buffers can hold a session token (in the
 * canonical request and in the DynamoDB header lines), so they grow with
 * sreserve(), which copies to a new block and wipes the old one instead of
 * letting realloc() free it unwiped. The signer's cache identifies the
 * secret by its SHA-256, never by a copy.
 *
 * Signer cache. A small array of (access key id, SHA-256(secret), date,
 * region, service) -> key entries with least-recently-used replacement,
 * guarded by one mutex held only to compare and copy 32 bytes. Keys
 * change once a day per credential set, so a handful of entries is plenty;
 * a miss costs four HMACs.
 *
 * Must never: read the clock or the environment, print, put a secret,
 * token, key or signature in an error message, or free secret material
 * without wiping it.
 */
#include "dynox/sigv4.h"

#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ helpers */

static const char HEX_LOWER[] = "0123456789abcdef";
static const char HEX_UPPER[] = "0123456789ABCDEF";

static void to_hex(const unsigned char *p, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX_LOWER[p[i] >> 4];
        out[2 * i + 1] = HEX_LOWER[p[i] & 15];
    }
    out[2 * n] = 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* RFC 3986 unreserved: what AWS leaves unencoded. Locale-independent on purpose. */
static bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * Grows b like dx_buf_reserve, but never through realloc(): the contents are
 * copied to a new block and the old block is wiped before it is freed, so a
 * buffer that held a token leaves no copy behind.
 */
static bool sreserve(dx_buf *b, size_t extra) {
    if (b->ptr && b->cap - b->len > extra) return true;
    size_t need = b->len + extra + 1;
    if (need < b->len) return false;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *p = malloc(cap);
    if (!p) return false;
    if (b->ptr) {
        memcpy(p, b->ptr, b->len + 1);
        dx_memwipe(b->ptr, b->cap);
        free(b->ptr);
    } else {
        p[0] = 0;
    }
    b->ptr = p;
    b->cap = cap;
    return true;
}

/* Appends once sreserve made room (the buffer never grows through dx_buf's realloc). */
static bool sappend(dx_buf *b, const void *p, size_t n) {
    if (!sreserve(b, n)) return false;
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = 0;
    return true;
}
static bool sputs(dx_buf *b, const char *s) { return sappend(b, s, strlen(s)); }
static bool sputc(dx_buf *b, char c) {
    if (!sreserve(b, 1)) return false;
    b->ptr[b->len++] = c;
    b->ptr[b->len] = 0;
    return true;
}

/* Empties b, allocating if needed so that b->ptr is a valid "" afterwards. */
static bool sreset(dx_buf *b) {
    dx_buf_clear(b);
    return sreserve(b, 0);
}

static dx_err nomem(dx_result *r) {
    return dx_fail(r, DX_ERR_NOMEM, NULL, "sigv4: out of memory while signing");
}

/*
 * SHA-256 and HMAC-SHA256. OpenSSL 3 looks an algorithm up by name (EVP_MD_fetch)
 * on every EVP_Digest(EVP_sha256()) or HMAC() call, which cost more than
 * hashing a small request. So SHA-256 is fetched once per process, each thread
 * keeps one EVP_MD_CTX (freed when the thread ends), and HMAC is done here
 * from two digests (RFC 2104) on that context. The context is the only
 * shared state and is per thread, so every function stays thread-safe; no
 * hash is ever nested inside another on the same thread.
 */
#if OPENSSL_VERSION_NUMBER < 0x30000000L /* OpenSSL 1.1: no fetching, nothing to save */
#define EVP_DigestInit_ex2(c, type, params) EVP_DigestInit_ex(c, type, NULL)
#endif

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;   /* kept for the process; NULL: EVP_sha256() instead */
static pthread_key_t md_key;
static bool md_key_ok;

static void md_ctx_destroy(void *p) { EVP_MD_CTX_free(p); }

static void md_init(void) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
#endif
    md_key_ok = pthread_key_create(&md_key, md_ctx_destroy) == 0;
}

/* This thread's digest context, or NULL (out of memory: callers fall back). */
static EVP_MD_CTX *md_ctx(void) {
    pthread_once(&md_once, md_init);
    if (!md_key_ok) return NULL;
    EVP_MD_CTX *c = pthread_getspecific(md_key);
    if (c) return c;
    c = EVP_MD_CTX_new();
    if (c && pthread_setspecific(md_key, c) != 0) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return c;
}

static const EVP_MD *md(void) { return md_sha256 ? md_sha256 : EVP_sha256(); }

/* SHA-256 of the concatenation of up to two pieces (b may be NULL). */
static bool sha256_2(const void *a, size_t an, const void *b, size_t bn, unsigned char out[32]) {
    EVP_MD_CTX *c = md_ctx(), *tmp = NULL;
    if (!c && !(c = tmp = EVP_MD_CTX_new())) return false;
    unsigned int len = 0;
    bool ok = EVP_DigestInit_ex2(c, md(), NULL) == 1 && EVP_DigestUpdate(c, a, an) == 1 &&
              (!b || EVP_DigestUpdate(c, b, bn) == 1) && EVP_DigestFinal_ex(c, out, &len) == 1 &&
              len == 32;
    EVP_MD_CTX_free(tmp);
    return ok;
}

static bool sha256(const void *p, size_t n, unsigned char out[32]) {
    return sha256_2(p, n, NULL, 0, out);
}

/* Leaves no key-derived state in this thread's context (after deriving a signing key). */
static void md_scrub(void) {
    EVP_MD_CTX *c = md_ctx();
    if (c) (void)EVP_DigestInit_ex2(c, md(), NULL);
}

/* HMAC-SHA256 (RFC 2104): H(K ^ opad || H(K ^ ipad || msg)). Every key-derived byte is wiped. */
static bool hmac256(const void *key, size_t keylen, const void *msg, size_t n,
                    unsigned char out[32]) {
    unsigned char k[64], pad[64], inner[32];
    bool ok = true;
    memset(k, 0, sizeof k);
    if (keylen > sizeof k)
        ok = sha256(key, keylen, k);
    else if (keylen)
        memcpy(k, key, keylen);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = (unsigned char)(k[i] ^ 0x36);
    ok = ok && sha256_2(pad, sizeof pad, msg, n, inner);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = (unsigned char)(k[i] ^ 0x5c);
    ok = ok && sha256_2(pad, sizeof pad, inner, sizeof inner, out);
    dx_memwipe(k, sizeof k);
    dx_memwipe(pad, sizeof pad);
    dx_memwipe(inner, sizeof inner);
    return ok;
}

/* A region or service name: non-empty, printable, no '/' (it is a scope component). */
static bool scope_part_ok(const char *s) {
    if (!s || !*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '/') return false;
    }
    return true;
}

static bool date8_ok(const char *s) {
    for (int i = 0; i < 8; i++)
        if (!is_digit(s[i])) return false;
    return true;
}

/* ---------------------------------------------------------------- time */

bool dx_sigv4_amzdate_valid(const char *s) {
    if (!s || strlen(s) != DX_SIGV4_AMZDATE_LEN) return false;
    for (int i = 0; i < DX_SIGV4_AMZDATE_LEN; i++) {
        if (i == 8) {
            if (s[i] != 'T') return false;
        } else if (i == 15) {
            if (s[i] != 'Z') return false;
        } else if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

dx_err dx_sigv4_amzdate(int64_t epoch_s, char out[DX_SIGV4_AMZDATE_LEN + 1]) {
    out[0] = 0;
    /* 253402300799 is 9999-12-31T23:59:59Z. */
    if (epoch_s < 0 || epoch_s > 253402300799LL) return DX_ERR_INVALID_ARG;
    time_t t = (time_t)epoch_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) return DX_ERR_INVALID_ARG;
    if (strftime(out, DX_SIGV4_AMZDATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != DX_SIGV4_AMZDATE_LEN)
        return DX_ERR_INVALID_ARG;
    return DX_OK;
}

/* ---------------------------------------------------- stage 1: canonical request */

static bool encode_into(dx_buf *out, const char *p, size_t n, bool keep_slash) {
    if (!sreserve(out, n * 3)) return false;
    char *o = out->ptr + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = HEX_UPPER[c >> 4];
            *o++ = HEX_UPPER[c & 15];
        }
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = 0;
    return true;
}

/*
 * Normalises path into norm: "." segments and empty segments ("//") dropped,
 * ".." removes the segment before it (never above the root), a leading '/'
 * always and a trailing '/' when path had one. Popping a segment is
 * truncating norm at its last '/', so no segment stack is needed.
 */
static bool normalize_path(dx_str path, dx_buf *norm) {
    const char *p = path.ptr, *end = path.ptr + path.len;
    while (p < end) {
        const char *seg = p;
        while (p < end && *p != '/') p++;
        size_t n = (size_t)(p - seg);
        if (p < end) p++; /* the '/' */
        if (n == 0 || (n == 1 && seg[0] == '.')) continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            while (norm->len > 0 && norm->ptr[norm->len - 1] != '/') norm->len--;
            if (norm->len > 0) norm->len--; /* the '/' before the segment */
            norm->ptr[norm->len] = 0;
            continue;
        }
        if (!sputc(norm, '/') || !sappend(norm, seg, n)) return false;
    }
    if (norm->len == 0) return sputc(norm, '/');
    if (path.len > 0 && path.ptr[path.len - 1] == '/') return sputc(norm, '/');
    return true;
}

/* true when path starts with '/' and has no empty, "." or ".." segment: nothing to normalise. */
static bool path_is_normal(dx_str path) {
    if (path.len == 0 || path.ptr[0] != '/') return false;
    size_t seg = 1;
    for (size_t i = 1; i <= path.len; i++) {
        if (i < path.len && path.ptr[i] != '/') continue;
        size_t n = i - seg;
        bool last = i == path.len;
        if (n == 0 && !last) return false; /* "//" */
        if (n == 1 && path.ptr[seg] == '.') return false;
        if (n == 2 && path.ptr[seg] == '.' && path.ptr[seg + 1] == '.') return false;
        seg = i + 1;
    }
    return true;
}

/* Appends the canonical URI of path to out. */
static bool append_uri(dx_buf *out, dx_str path, unsigned flags) {
    if (path.len == 0) return sputc(out, '/');
    dx_buf norm = {0};
    dx_str src = path;
    if (!(flags & DX_SIGV4_NO_NORMALIZE_PATH) && !path_is_normal(path)) {
        if (!sreset(&norm) || !normalize_path(path, &norm)) {
            dx_buf_free(&norm);
            return false;
        }
        src.ptr = norm.ptr;
        src.len = norm.len;
    }
    bool ok = (flags & DX_SIGV4_NO_ENCODE_PATH) ? sappend(out, src.ptr, src.len)
                                                : encode_into(out, src.ptr, src.len, true);
    dx_buf_free(&norm);
    return ok;
}

dx_err dx_sigv4_canonical_uri(dx_str path, unsigned flags, dx_buf *out, dx_result *r) {
    if (!out || (path.len && !path.ptr))
        return dx_fail(r, DX_ERR_INVALID_ARG, "path", "sigv4: canonical URI needs a path and a buffer");
    if (!sreset(out) || !append_uri(out, path, flags)) return nomem(r);
    return DX_OK;
}

/* Percent-decodes p into out (a malformed "%" escape is kept as it is). */
static bool decode_into(dx_buf *out, const char *p, size_t n) {
    if (!sreserve(out, n)) return false;
    char *o = out->ptr + out->len;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = p[i];
        }
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = 0;
    return true;
}

typedef struct qparam {
    size_t koff, klen, voff, vlen; /* offsets into the encoded-text buffer */
    const char *base;              /* set once the buffer stops moving */
} qparam;

static int qparam_cmp(const void *a, const void *b) {
    const qparam *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->base + x->koff, y->base + y->koff, n);
    if (c) return c;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    n = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = memcmp(x->base + x->voff, y->base + y->voff, n);
    if (c) return c;
    if (x->vlen != y->vlen) return x->vlen < y->vlen ? -1 : 1;
    return 0;
}

/* Appends the canonical query string of query to out. */
static bool append_query(dx_buf *out, dx_str query) {
    if (query.len == 0) return true;
    size_t cap = 1;
    for (size_t i = 0; i < query.len; i++) cap += query.ptr[i] == '&';
    qparam *ps = calloc(cap, sizeof *ps);
    dx_buf enc = {0}, dec = {0};
    size_t np = 0;
    bool ok = true;
    if (!ps || !sreset(&enc)) goto oom;

    const char *p = query.ptr, *end = query.ptr + query.len;
    while (p < end) {
        const char *param = p;
        while (p < end && *p != '&') p++;
        size_t n = (size_t)(p - param);
        if (p < end) p++;
        if (n == 0) continue;
        const char *eq = memchr(param, '=', n);
        size_t kn = eq ? (size_t)(eq - param) : n;
        const char *v = eq ? eq + 1 : param + n;
        size_t vn = eq ? n - kn - 1 : 0;
        qparam *q = &ps[np++];
        dx_buf_clear(&dec);
        if (!decode_into(&dec, param, kn)) goto oom;
        q->koff = enc.len;
        if (!encode_into(&enc, dec.ptr, dec.len, false)) goto oom;
        q->klen = enc.len - q->koff;
        dx_buf_clear(&dec);
        if (!decode_into(&dec, v, vn)) goto oom;
        q->voff = enc.len;
        if (!encode_into(&enc, dec.ptr, dec.len, false)) goto oom;
        q->vlen = enc.len - q->voff;
    }
    for (size_t i = 0; i < np; i++) ps[i].base = enc.ptr;
    qsort(ps, np, sizeof *ps, qparam_cmp);
    for (size_t i = 0; i < np; i++) {
        if ((i > 0 && !sputc(out, '&')) || !sappend(out, enc.ptr + ps[i].koff, ps[i].klen) ||
            !sputc(out, '=') || !sappend(out, enc.ptr + ps[i].voff, ps[i].vlen))
            goto oom;
    }
    goto done;
oom:
    ok = false;
done:
    free(ps);
    dx_buf_wipe(&enc);
    dx_buf_wipe(&dec);
    return ok;
}

dx_err dx_sigv4_canonical_query(dx_str query, dx_buf *out, dx_result *r) {
    if (!out || (query.len && !query.ptr))
        return dx_fail(r, DX_ERR_INVALID_ARG, "query", "sigv4: canonical query needs a query and a buffer");
    if (!sreset(out) || !append_query(out, query)) return nomem(r);
    return DX_OK;
}

typedef struct hent {
    const dx_sigv4_header *h;
    size_t idx; /* position in the input: repeated names keep their order */
} hent;

static int hname_cmp(dx_str a, dx_str b) {
    size_t n = a.len < b.len ? a.len : b.len;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)lower(a.ptr[i]), y = (unsigned char)lower(b.ptr[i]);
        if (x != y) return x < y ? -1 : 1;
    }
    if (a.len != b.len) return a.len < b.len ? -1 : 1;
    return 0;
}

static int hent_cmp(const void *a, const void *b) {
    const hent *x = a, *y = b;
    int c = hname_cmp(x->h->name, y->h->name);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool hname_ok(dx_str n) {
    if (n.len == 0 || !n.ptr) return false;
    for (size_t i = 0; i < n.len; i++) {
        unsigned char c = (unsigned char)n.ptr[i];
        if (c <= 0x20 || c == 0x7f || c == ':') return false;
    }
    return true;
}

/* Appends v trimmed, with every run of whitespace collapsed to one space. */
static bool put_trimmed(dx_buf *out, dx_str v) {
    if (!sreserve(out, v.len)) return false;
    char *o = out->ptr + out->len;
    bool pending = false, any = false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if (is_ws(c)) {
            pending = any;
            continue;
        }
        if (pending) *o++ = ' ';
        pending = false;
        any = true;
        *o++ = c;
    }
    out->len = (size_t)(o - out->ptr);
    out->ptr[out->len] = 0;
    return true;
}

static bool put_lower(dx_buf *out, dx_str s) {
    if (!sreserve(out, s.len)) return false;
    for (size_t i = 0; i < s.len; i++) out->ptr[out->len++] = lower(s.ptr[i]);
    out->ptr[out->len] = 0;
    return true;
}

static dx_err check_headers(const dx_sigv4_header *headers, size_t n, dx_result *r) {
    if (n && !headers)
        return dx_fail(r, DX_ERR_INVALID_ARG, "headers", "sigv4: nheaders is set but headers is NULL");
    for (size_t i = 0; i < n; i++) {
        if (!hname_ok(headers[i].name))
            return dx_fail(r, DX_ERR_INVALID_ARG, "headers",
                           "sigv4: header %zu has an empty name or a space, control "
                           "character or ':' in its name", i);
        if (headers[i].value.len && !headers[i].value.ptr)
            return dx_fail(r, DX_ERR_INVALID_ARG, "headers", "sigv4: header %zu has no value", i);
    }
    return DX_OK;
}

/* Appends the canonical headers block to canon and the signed-headers list to
 * signed_headers. The headers must have passed check_headers(). */
static bool append_headers(const dx_sigv4_header *headers, size_t n, dx_buf *canon, dx_buf *signed_headers) {
    if (n == 0) return true;
    hent stackes[16];
    hent *es = n <= 16 ? stackes : malloc(n * sizeof *es);
    if (!es) return false;
    for (size_t i = 0; i < n; i++) {
        es[i].h = &headers[i];
        es[i].idx = i;
    }
    qsort(es, n, sizeof *es, hent_cmp);
    bool good = true;
    for (size_t i = 0; i < n && good; i++) {
        bool first = i == 0 || hname_cmp(es[i - 1].h->name, es[i].h->name) != 0;
        bool ok;
        if (first) {
            if (i > 0) ok = sputc(canon, '\n') && sputc(signed_headers, ';');
            else ok = true;
            ok = ok && put_lower(canon, es[i].h->name) && sputc(canon, ':') &&
                 put_lower(signed_headers, es[i].h->name);
        } else {
            ok = sputc(canon, ',');
        }
        good = ok && put_trimmed(canon, es[i].h->value);
    }
    good = good && sputc(canon, '\n');
    if (es != stackes) free(es);
    return good;
}

dx_err dx_sigv4_canonical_headers(const dx_sigv4_header *headers, size_t n, dx_buf *canon,
                                  dx_buf *signed_headers, dx_result *r) {
    if (!canon || !signed_headers)
        return dx_fail(r, DX_ERR_INVALID_ARG, "headers", "sigv4: canonical headers need output buffers");
    dx_err e = check_headers(headers, n, r);
    if (e) return e;
    if (!sreset(canon) || !sreset(signed_headers) || !append_headers(headers, n, canon, signed_headers))
        return nomem(r);
    return DX_OK;
}

dx_err dx_sigv4_payload_hash(dx_str payload, char out[DX_SIGV4_HEX_LEN + 1]) {
    unsigned char md[32];
    out[0] = 0;
    if (payload.len && !payload.ptr) return DX_ERR_INVALID_ARG;
    if (!sha256(payload.len ? payload.ptr : "", payload.len, md)) return DX_ERR_NOMEM;
    to_hex(md, 32, out);
    return DX_OK;
}

static bool has_header(const dx_sigv4_request *req, const char *name) {
    dx_str n = dx_str_c(name);
    for (size_t i = 0; i < req->nheaders; i++)
        if (hname_cmp(req->headers[i].name, n) == 0) return true;
    return false;
}

static bool method_ok(const char *m) {
    if (!m || !*m) return false;
    for (; *m; m++)
        if ((unsigned char)*m <= 0x20 || *m == 0x7f) return false;
    return true;
}

dx_err dx_sigv4_canonical_request(const dx_sigv4_request *req, const char *payload_hash,
                                  dx_buf *out, dx_buf *signed_headers, dx_result *r) {
    if (!req || !out || !signed_headers)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "sigv4: canonical request needs a request and buffers");
    if (!method_ok(req->method))
        return dx_fail(r, DX_ERR_INVALID_ARG, "method", "sigv4: the request has no HTTP method (or one with a space in it)");
    dx_err he = check_headers(req->headers, req->nheaders, r);
    if (he) return he;
    if (!has_header(req, "host"))
        return dx_fail(r, DX_ERR_INVALID_ARG, "host",
                       "sigv4: the request has no Host header; add the Host that will be sent");

    char hash[DX_SIGV4_HEX_LEN + 1];
    if (!payload_hash) payload_hash = req->payload_hash;
    if (!payload_hash) {
        dx_err e = dx_sigv4_payload_hash(req->payload, hash);
        if (e == DX_ERR_INVALID_ARG)
            return dx_fail(r, e, "payload", "sigv4: payload.len is set but payload.ptr is NULL");
        if (e != DX_OK) return nomem(r);
        payload_hash = hash;
    }

    if ((req->path.len && !req->path.ptr) || (req->query.len && !req->query.ptr))
        return dx_fail(r, DX_ERR_INVALID_ARG, "path", "sigv4: path or query has a length but no pointer");
    if (!sreset(out) || !sreset(signed_headers) || !sputs(out, req->method) || !sputc(out, '\n') ||
        !append_uri(out, req->path, req->flags) || !sputc(out, '\n') ||
        !append_query(out, req->query) || !sputc(out, '\n') ||
        !append_headers(req->headers, req->nheaders, out, signed_headers) || !sputc(out, '\n') ||
        !sappend(out, signed_headers->ptr, signed_headers->len) || !sputc(out, '\n') ||
        !sputs(out, payload_hash)) {
        dx_buf_clear(out);
        dx_buf_clear(signed_headers);
        return nomem(r);
    }
    return DX_OK;
}

/* ---------------------------------------------------- stage 2: string to sign */

static dx_err check_scope_args(const char *amzdate, const char *region, const char *service,
                               dx_result *r) {
    if (!dx_sigv4_amzdate_valid(amzdate))
        return dx_fail(r, DX_ERR_INVALID_ARG, "amzdate",
                       "sigv4: the request time '%.32s' is not an X-Amz-Date "
                       "(YYYYMMDDTHHMMSSZ, UTC)", amzdate ? amzdate : "(null)");
    if (!scope_part_ok(region))
        return dx_fail(r, DX_ERR_INVALID_ARG, "region",
                       "sigv4: the region '%.64s' is empty or contains '/' or whitespace",
                       region ? region : "(null)");
    if (!scope_part_ok(service))
        return dx_fail(r, DX_ERR_INVALID_ARG, "service",
                       "sigv4: the service name '%.64s' is empty or contains '/' or whitespace",
                       service ? service : "(null)");
    return DX_OK;
}

static bool put_scope(dx_buf *out, const char *amzdate, const char *region, const char *service) {
    return sappend(out, amzdate, 8) && sputc(out, '/') && sputs(out, region) && sputc(out, '/') &&
           sputs(out, service) && sputs(out, "/aws4_request");
}

dx_err dx_sigv4_scope(const char *amzdate, const char *region, const char *service, dx_buf *out,
                      dx_result *r) {
    dx_err e = check_scope_args(amzdate, region, service, r);
    if (e) return e;
    if (!out) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "sigv4: no output buffer");
    if (!sreset(out) || !put_scope(out, amzdate, region, service)) return nomem(r);
    return DX_OK;
}

dx_err dx_sigv4_string_to_sign(const char *amzdate, const char *region, const char *service,
                               dx_str canonical_request, dx_buf *out, dx_result *r) {
    dx_err e = check_scope_args(amzdate, region, service, r);
    if (e) return e;
    if (!out || (canonical_request.len && !canonical_request.ptr))
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "sigv4: string to sign needs a canonical request and a buffer");
    char hash[DX_SIGV4_HEX_LEN + 1];
    if (dx_sigv4_payload_hash(canonical_request, hash) != DX_OK) return nomem(r);
    if (!sreset(out) || !sputs(out, DX_SIGV4_ALGORITHM "\n") || !sputs(out, amzdate) ||
        !sputc(out, '\n') || !put_scope(out, amzdate, region, service) || !sputc(out, '\n') ||
        !sputs(out, hash))
        return nomem(r);
    return DX_OK;
}

/* ---------------------------------------------------- stage 3: signing key */

dx_err dx_sigv4_signing_key(const char *secret_access_key, const char *amzdate, const char *region,
                            const char *service, unsigned char key[DX_SIGV4_KEY_LEN],
                            dx_result *r) {
    memset(key, 0, DX_SIGV4_KEY_LEN);
    if (!secret_access_key || !*secret_access_key)
        return dx_fail(r, DX_ERR_INVALID_ARG, "secret_access_key", "sigv4: the secret access key is empty");
    size_t dl = amzdate ? strlen(amzdate) : 0;
    if (!((dl == 8 && date8_ok(amzdate)) || (dl == DX_SIGV4_AMZDATE_LEN && dx_sigv4_amzdate_valid(amzdate))))
        return dx_fail(r, DX_ERR_INVALID_ARG, "amzdate",
                       "sigv4: the date '%.32s' is neither YYYYMMDD nor an X-Amz-Date",
                       amzdate ? amzdate : "(null)");
    if (!scope_part_ok(region))
        return dx_fail(r, DX_ERR_INVALID_ARG, "region", "sigv4: the region is empty or contains '/' or whitespace");
    if (!scope_part_ok(service))
        return dx_fail(r, DX_ERR_INVALID_ARG, "service", "sigv4: the service name is empty or contains '/' or whitespace");

    /* "AWS4" + secret: on the stack when it fits (it always does for AWS keys). */
    size_t sl = strlen(secret_access_key);
    unsigned char stackbuf[128];
    unsigned char *k0 = sl + 4 <= sizeof stackbuf ? stackbuf : malloc(sl + 4);
    if (!k0) return nomem(r);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret_access_key, sl);

    unsigned char a[32], b[32];
    bool ok = hmac256(k0, sl + 4, amzdate, 8, a) &&
              hmac256(a, 32, region, strlen(region), b) &&
              hmac256(b, 32, service, strlen(service), a) &&
              hmac256(a, 32, "aws4_request", 12, key);
    md_scrub();
    dx_memwipe(k0, sl + 4);
    if (k0 != stackbuf) free(k0);
    dx_memwipe(a, sizeof a);
    dx_memwipe(b, sizeof b);
    if (!ok) {
        dx_memwipe(key, DX_SIGV4_KEY_LEN);
        return nomem(r);
    }
    return DX_OK;
}

/* ---------------------------------------------------- stage 4: signature */

dx_err dx_sigv4_signature(const unsigned char key[DX_SIGV4_KEY_LEN], dx_str string_to_sign,
                          char out[DX_SIGV4_HEX_LEN + 1]) {
    unsigned char mac[32];
    out[0] = 0;
    if (!key || (string_to_sign.len && !string_to_sign.ptr)) return DX_ERR_INVALID_ARG;
    if (!hmac256(key, DX_SIGV4_KEY_LEN, string_to_sign.len ? string_to_sign.ptr : "",
                 string_to_sign.len, mac))
        return DX_ERR_NOMEM;
    to_hex(mac, 32, out);
    dx_memwipe(mac, sizeof mac);
    return DX_OK;
}

/* ---------------------------------------------------- stage 5: Authorization */

static bool akid_ok(const char *s) {
    if (!s || !*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '/' || c == ',') return false;
    }
    return true;
}

dx_err dx_sigv4_authorization(const char *access_key_id, const char *amzdate, const char *region,
                              const char *service, const char *signed_headers,
                              const char *signature, dx_buf *out, dx_result *r) {
    if (!akid_ok(access_key_id))
        return dx_fail(r, DX_ERR_INVALID_ARG, "access_key_id",
                       "sigv4: the access key id is empty or contains '/', ',' or whitespace");
    dx_err e = check_scope_args(amzdate, region, service, r);
    if (e) return e;
    if (!signed_headers || !*signed_headers)
        return dx_fail(r, DX_ERR_INVALID_ARG, "signed_headers", "sigv4: the signed-headers list is empty");
    if (!signature || strlen(signature) != DX_SIGV4_HEX_LEN)
        return dx_fail(r, DX_ERR_INVALID_ARG, "signature", "sigv4: the signature is not 64 hex digits");
    if (!out) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "sigv4: no output buffer");
    if (!sreset(out) || !sputs(out, DX_SIGV4_ALGORITHM " Credential=") || !sputs(out, access_key_id) ||
        !sputc(out, '/') || !put_scope(out, amzdate, region, service) ||
        !sputs(out, ", SignedHeaders=") || !sputs(out, signed_headers) ||
        !sputs(out, ", Signature=") || !sputs(out, signature))
        return nomem(r);
    return DX_OK;
}

/* ---------------------------------------------------- the signer */

#define CACHE_SLOTS 8
#define CACHE_ID_MAX 128 /* longer ids, regions or services are derived, not cached */

typedef struct cache_slot {
    bool used;
    uint64_t last_use;
    char akid[CACHE_ID_MAX];
    unsigned char secret_hash[32];
    char date[9];
    char region[64];
    char service[64];
    unsigned char key[DX_SIGV4_KEY_LEN];
} cache_slot;

struct dx_sigv4_signer {
    pthread_mutex_t mu;
    uint64_t tick;
    dx_sigv4_signer_stats stats;
    cache_slot slot[CACHE_SLOTS];
};

dx_sigv4_signer *dx_sigv4_signer_new(void) {
    dx_sigv4_signer *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void dx_sigv4_signer_free(dx_sigv4_signer *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    dx_memwipe(s, sizeof *s);
    free(s);
}

dx_sigv4_signer_stats dx_sigv4_signer_stats_get(dx_sigv4_signer *s) {
    dx_sigv4_signer_stats st = {0, 0};
    if (!s) return st;
    pthread_mutex_lock(&s->mu);
    st = s->stats;
    pthread_mutex_unlock(&s->mu);
    return st;
}

static bool slot_matches(const cache_slot *c, const char *akid, const unsigned char sh[32],
                         const char *date, const char *region, const char *service) {
    return c->used && memcmp(c->date, date, 8) == 0 && strcmp(c->akid, akid) == 0 &&
           strcmp(c->region, region) == 0 && strcmp(c->service, service) == 0 &&
           memcmp(c->secret_hash, sh, 32) == 0;
}

/* Gets the signing key from the cache or derives (and caches) it. */
static dx_err signer_key(dx_sigv4_signer *s, const dx_sigv4_creds *c, const char *amzdate,
                         const char *region, const char *service,
                         unsigned char key[DX_SIGV4_KEY_LEN], dx_result *r) {
    bool cacheable = s && strlen(c->access_key_id) < CACHE_ID_MAX &&
                     strlen(region) < sizeof s->slot[0].region &&
                     strlen(service) < sizeof s->slot[0].service;
    if (!cacheable) return dx_sigv4_signing_key(c->secret_access_key, amzdate, region, service, key, r);

    unsigned char sh[32];
    if (!sha256(c->secret_access_key, strlen(c->secret_access_key), sh)) return nomem(r);
    bool hit = false;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cache_slot *cs = &s->slot[i];
        if (slot_matches(cs, c->access_key_id, sh, amzdate, region, service)) {
            memcpy(key, cs->key, DX_SIGV4_KEY_LEN);
            cs->last_use = ++s->tick;
            s->stats.hits++;
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (hit) {
        dx_memwipe(sh, sizeof sh);
        return DX_OK;
    }

    dx_err e = dx_sigv4_signing_key(c->secret_access_key, amzdate, region, service, key, r);
    if (e) {
        dx_memwipe(sh, sizeof sh);
        return e;
    }
    pthread_mutex_lock(&s->mu);
    s->stats.derives++;
    cache_slot *victim = &s->slot[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cache_slot *cs = &s->slot[i];
        if (slot_matches(cs, c->access_key_id, sh, amzdate, region, service)) {
            victim = cs; /* another thread derived it meanwhile */
            break;
        }
        if (!cs->used) {
            if (victim->used) victim = cs;
        } else if (victim->used && cs->last_use < victim->last_use) {
            victim = cs;
        }
    }
    dx_memwipe(victim, sizeof *victim);
    victim->used = true;
    victim->last_use = ++s->tick;
    snprintf(victim->akid, sizeof victim->akid, "%s", c->access_key_id);
    memcpy(victim->secret_hash, sh, 32);
    memcpy(victim->date, amzdate, 8);
    snprintf(victim->region, sizeof victim->region, "%s", region);
    snprintf(victim->service, sizeof victim->service, "%s", service);
    memcpy(victim->key, key, DX_SIGV4_KEY_LEN);
    pthread_mutex_unlock(&s->mu);
    dx_memwipe(sh, sizeof sh);
    return DX_OK;
}

void dx_sigv4_output_free(dx_sigv4_output *out) {
    if (!out) return;
    dx_buf_wipe(&out->canonical_request);
    dx_buf_wipe(&out->string_to_sign);
    dx_buf_wipe(&out->signed_headers);
    dx_buf_wipe(&out->authorization);
    dx_memwipe(out, sizeof *out);
}

/* X-Amz-Date headers present in req must say the same time as amzdate. */
static bool date_header_matches(const dx_sigv4_request *req, const char *amzdate) {
    dx_str n = dx_str_c("x-amz-date");
    for (size_t i = 0; i < req->nheaders; i++) {
        if (hname_cmp(req->headers[i].name, n) != 0) continue;
        dx_str v = req->headers[i].value;
        while (v.len && is_ws(v.ptr[0])) v.ptr++, v.len--;
        while (v.len && is_ws(v.ptr[v.len - 1])) v.len--;
        if (v.len != DX_SIGV4_AMZDATE_LEN || memcmp(v.ptr, amzdate, v.len) != 0) return false;
    }
    return true;
}

dx_err dx_sigv4_sign(dx_sigv4_signer *s, const dx_sigv4_creds *creds, const char *region,
                     const char *service, const char *amzdate, const dx_sigv4_request *req,
                     dx_sigv4_output *out, dx_result *r) {
    if (!out || !req) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "sigv4: sign needs a request and an output");
    out->token_added = false;
    out->signature[0] = 0;
    if (!creds || !creds->access_key_id || !*creds->access_key_id)
        return dx_fail(r, DX_ERR_INVALID_ARG, "access_key_id",
                       "sigv4: no access key id; resolve credentials before signing");
    if (!creds->secret_access_key || !*creds->secret_access_key)
        return dx_fail(r, DX_ERR_INVALID_ARG, "secret_access_key",
                       "sigv4: no secret access key; resolve credentials before signing");
    if (!akid_ok(creds->access_key_id))
        return dx_fail(r, DX_ERR_INVALID_ARG, "access_key_id",
                       "sigv4: the access key id contains '/', ',' or whitespace");
    dx_err e = check_scope_args(amzdate, region, service, r);
    if (e) return e;
    if (req->nheaders && !req->headers)
        return dx_fail(r, DX_ERR_INVALID_ARG, "headers", "sigv4: nheaders is set but headers is NULL");
    if (!date_header_matches(req, amzdate))
        return dx_fail(r, DX_ERR_INVALID_ARG, "x-amz-date",
                       "sigv4: the request's X-Amz-Date header differs from the signing time %s",
                       amzdate);

    /* A session token not already among the headers is signed as one. */
    dx_sigv4_request rq = *req;
    dx_sigv4_header *hs = NULL;
    const char *tok = creds->session_token;
    if (tok && *tok && !has_header(req, "x-amz-security-token")) {
        for (const char *t = tok; *t; t++)
            if (*t == '\r' || *t == '\n')
                return dx_fail(r, DX_ERR_INVALID_ARG, "session_token",
                               "sigv4: the session token contains a line break");
        hs = malloc((req->nheaders + 1) * sizeof *hs);
        if (!hs) return nomem(r);
        if (req->nheaders) memcpy(hs, req->headers, req->nheaders * sizeof *hs);
        hs[req->nheaders].name = dx_str_c("X-Amz-Security-Token");
        hs[req->nheaders].value = dx_str_c(tok);
        rq.headers = hs;
        rq.nheaders = req->nheaders + 1;
        out->token_added = true;
    }

    unsigned char key[DX_SIGV4_KEY_LEN];
    memset(key, 0, sizeof key);
    e = dx_sigv4_canonical_request(&rq, NULL, &out->canonical_request, &out->signed_headers, r);
    if (e) goto done;
    e = dx_sigv4_string_to_sign(amzdate, region, service,
                                (dx_str){out->canonical_request.ptr, out->canonical_request.len},
                                &out->string_to_sign, r);
    if (e) goto done;
    e = signer_key(s, creds, amzdate, region, service, key, r);
    if (e) goto done;
    if (dx_sigv4_signature(key, (dx_str){out->string_to_sign.ptr, out->string_to_sign.len},
                           out->signature) != DX_OK) {
        e = nomem(r);
        goto done;
    }
    e = dx_sigv4_authorization(creds->access_key_id, amzdate, region, service,
                               out->signed_headers.ptr, out->signature, &out->authorization, r);
done:
    dx_memwipe(key, sizeof key);
    free(hs); /* only views: nothing secret of ours in it */
    if (e) {
        out->token_added = false;
        dx_memwipe(out->signature, sizeof out->signature);
        dx_buf_clear(&out->authorization);
    }
    return e;
}

/* ---------------------------------------------------- DynamoDB */

static bool value_ok(const char *s) {
    if (!s || !*s) return false;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return false;
    return true;
}

void dx_sigv4_headers_free(dx_sigv4_headers *out) {
    if (!out) return;
    dx_sigv4_output_free(&out->out);
    dx_buf_wipe(&out->text_);
    dx_memwipe(out, sizeof *out);
}

const char *dx_sigv4_headers_get(const dx_sigv4_headers *out, const char *name) {
    if (!out || !name) return NULL;
    dx_str n = dx_str_c(name);
    for (size_t i = 0; i < out->count; i++)
        if (hname_cmp(dx_str_c(out->h[i].name), n) == 0) return out->h[i].value;
    return NULL;
}

dx_err dx_sigv4_sign_dynamodb(dx_sigv4_signer *s, const dx_sigv4_ddb_request *req,
                              dx_sigv4_headers *out, dx_result *r) {
    if (!out || !req) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "sigv4: sign_dynamodb needs a request and an output");
    out->count = 0;
    if (!value_ok(req->host) || strchr(req->host, ' ') || strchr(req->host, '/'))
        return dx_fail(r, DX_ERR_INVALID_ARG, "host",
                       "sigv4: the DynamoDB Host header is empty or malformed; pass the "
                       "endpoint's host (and :port when not the default)");
    if (!value_ok(req->target))
        return dx_fail(r, DX_ERR_INVALID_ARG, "target",
                       "sigv4: X-Amz-Target is empty or has a line break; pass e.g. "
                       "\"DynamoDB_20120810.PutItem\"");
    if (!req->creds)
        return dx_fail(r, DX_ERR_INVALID_ARG, "credentials", "sigv4: no credentials to sign with");
    if (req->body.len && !req->body.ptr)
        return dx_fail(r, DX_ERR_INVALID_ARG, "body", "sigv4: body.len is set but body.ptr is NULL");

    char clen[24] = "";
    if (req->flags & DX_SIGV4_SIGN_CONTENT_LENGTH) snprintf(clen, sizeof clen, "%zu", req->body.len);
    const char *tok = req->creds->session_token;
    bool has_tok = tok && *tok;
    if (has_tok && !value_ok(tok))
        return dx_fail(r, DX_ERR_INVALID_ARG, "session_token", "sigv4: the session token contains a line break");

    dx_sigv4_header hs[DX_SIGV4_DDB_MAX_HEADERS];
    size_t n = 0;
    hs[n++] = (dx_sigv4_header){dx_str_c("Host"), dx_str_c(req->host)};
    hs[n++] = (dx_sigv4_header){dx_str_c("X-Amz-Date"), dx_str_c(req->amzdate)};
    hs[n++] = (dx_sigv4_header){dx_str_c("X-Amz-Target"), dx_str_c(req->target)};
    hs[n++] = (dx_sigv4_header){dx_str_c("Content-Type"), dx_str_c(DX_SIGV4_DDB_CONTENT_TYPE)};
    if (req->flags & DX_SIGV4_SIGN_CONTENT_LENGTH)
        hs[n++] = (dx_sigv4_header){dx_str_c("Content-Length"), dx_str_c(clen)};
    if (has_tok) hs[n++] = (dx_sigv4_header){dx_str_c("X-Amz-Security-Token"), dx_str_c(tok)};

    dx_sigv4_request rq = {
        .method = "POST",
        .path = dx_str_c("/"),
        .query = dx_str_c(""),
        .headers = hs,
        .nheaders = n,
        .payload = req->body,
        .payload_hash = NULL,
        .flags = 0,
    };
    dx_err e = dx_sigv4_sign(s, req->creds, req->region, DX_SIGV4_DDB_SERVICE, req->amzdate, &rq,
                             &out->out, r);
    if (e) return e;
    hs[n++] = (dx_sigv4_header){dx_str_c("Authorization"),
                                {out->out.authorization.ptr, out->out.authorization.len}};

    /* name\0value\0Name: value\0 per header, offsets first: text_ may move while it grows. */
    size_t off[DX_SIGV4_DDB_MAX_HEADERS][3];
    if (!sreset(&out->text_)) return nomem(r);
    for (size_t i = 0; i < n; i++) {
        off[i][0] = out->text_.len;
        if (!sappend(&out->text_, hs[i].name.ptr, hs[i].name.len) || !sputc(&out->text_, 0)) goto oom;
        off[i][1] = out->text_.len;
        if (!sappend(&out->text_, hs[i].value.ptr, hs[i].value.len) || !sputc(&out->text_, 0)) goto oom;
        off[i][2] = out->text_.len;
        if (!sappend(&out->text_, hs[i].name.ptr, hs[i].name.len) || !sputs(&out->text_, ": ") ||
            !sappend(&out->text_, hs[i].value.ptr, hs[i].value.len) || !sputc(&out->text_, 0))
            goto oom;
    }
    for (size_t i = 0; i < n; i++) {
        out->h[i].name = out->text_.ptr + off[i][0];
        out->h[i].value = out->text_.ptr + off[i][1];
        out->h[i].line = out->text_.ptr + off[i][2];
    }
    out->count = n;
    return DX_OK;
oom:
    dx_buf_clear(&out->text_);
    return nomem(r);
}
