/*
 * test_sigv4.c - SigV4 against the AWS test suite and DynamoDB vectors, and
 * unit tests of each stage, the key cache and the error messages.
 *
 * Vectors live in tests/data/sigv4/{sigv4-testsuite,sigv4-dynamodb}/ (see
 * PROVENANCE.md there). The directory is found at run time: $DYNOX_TESTDATA/sigv4
 * when set, else tests/data/sigv4 relative to the current directory (tests
 * run from the repository root). Every directory holding <name>.req is a
 * vector and becomes one cmocka test named after it; a missing directory or
 * fewer vectors than expected fails the run rather than passing vacuously.
 *
 * Each vector is checked twice: end to end (dx_sigv4_sign, comparing the
 * canonical request, string to sign and Authorization byte for byte with
 * .creq, .sts and .authz), and stage by stage from the expected inputs (the
 * string to sign from the expected .creq, the signature from the expected
 * .sts), so a failure points at one stage.
 *
 * Must never: depend on the clock or on the process environment other than
 * DYNOX_TESTDATA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clitest.h"
#include "dynox/error.h"
#include "dynox/sigv4.h"
#include "dynox/util.h"

/* The generic suite's documented inputs (every .authz/.sts says the same). */
#define SUITE_AKID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_REGION "us-east-1"
#define SUITE_SERVICE "service"
#define SUITE_DATE "20150830T123600Z"

#define EXPECTED_SUITE_VECTORS 34
#define EXPECTED_DDB_VECTORS 2

/* ------------------------------------------------------------ file helpers */

static const char *data_root(void) {
    static char root[512];
    const char *env = getenv("DYNOX_TESTDATA");
    snprintf(root, sizeof root, "%s/sigv4", env && *env ? env : "tests/data");
    return root;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ------------------------------------------------------------ vectors */

typedef struct vector {
    char dir[1024];
    char name[128];
    bool ddb; /* from sigv4-dynamodb (has context.json) */
} vector;

typedef struct vector_list {
    vector *v;
    size_t n, cap;
} vector_list;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir depth-first in name order; a directory with <basename>.req is a vector. */
static void discover(const char *dir, bool ddb, vector_list *out) {
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    char req[1200];
    snprintf(req, sizeof req, "%s/%s.req", dir, base);
    if (is_file(req)) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->v = realloc(out->v, out->cap * sizeof *out->v);
            assert_non_null(out->v);
        }
        vector *v = &out->v[out->n++];
        snprintf(v->dir, sizeof v->dir, "%s", dir);
        snprintf(v->name, sizeof v->name, "%s", base);
        v->ddb = ddb;
        return;
    }
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        assert_non_null(names);
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    if (nn) qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        char sub[1100];
        snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
        if (is_dir(sub)) discover(sub, ddb, out);
        free(names[i]);
    }
    free(names);
}

/* A parsed .req: request line, headers (continuation lines kept with their
 * line break, as on the wire), blank line, body. */
typedef struct parsed_req {
    char *text; /* owns every string below */
    const char *method;
    dx_str path, query;
    dx_sigv4_header h[32];
    size_t nh;
    dx_str body;
} parsed_req;

static void parse_req(char *text, size_t len, parsed_req *p) {
    memset(p, 0, sizeof *p);
    p->text = text;
    char *end = text + len;
    char *eol = memchr(text, '\n', len);
    char *line_end = eol ? eol : end;
    /* Request line: METHOD SP target SP HTTP/1.1; the target may hold spaces. */
    char *sp1 = memchr(text, ' ', (size_t)(line_end - text));
    assert_non_null(sp1);
    char *sp2 = line_end;
    while (sp2 > sp1 && *sp2 != ' ') sp2--;
    assert_true(sp2 > sp1);
    *sp1 = 0;
    p->method = text;
    char *target = sp1 + 1;
    size_t tlen = (size_t)(sp2 - target);
    char *q = memchr(target, '?', tlen);
    if (q) {
        p->path = (dx_str){target, (size_t)(q - target)};
        p->query = (dx_str){q + 1, (size_t)(sp2 - q - 1)};
    } else {
        p->path = (dx_str){target, tlen};
        p->query = (dx_str){"", 0};
    }
    char *s = eol ? eol + 1 : end;
    while (s < end) {
        char *e = memchr(s, '\n', (size_t)(end - s));
        char *le = e ? e : end;
        if (le == s) { /* blank line: the body follows */
            s = e ? e + 1 : end;
            p->body = (dx_str){s, (size_t)(end - s)};
            return;
        }
        if ((*s == ' ' || *s == '\t') && p->nh > 0) {
            /* obs-fold continuation: part of the previous header's value */
            dx_sigv4_header *prev = &p->h[p->nh - 1];
            prev->value.len = (size_t)(le - prev->value.ptr);
        } else {
            char *colon = memchr(s, ':', (size_t)(le - s));
            assert_non_null(colon);
            assert_true(p->nh < 32);
            p->h[p->nh].name = (dx_str){s, (size_t)(colon - s)};
            p->h[p->nh].value = (dx_str){colon + 1, (size_t)(le - colon - 1)};
            p->nh++;
        }
        s = e ? e + 1 : end;
    }
    p->body = (dx_str){"", 0};
}

typedef struct context {
    char access[64], secret[128], token[512], region[64], service[64], amzdate[32];
    char unsigned_headers[8][64];
    size_t nunsigned;
} context;

static void copy_json_str(const cJSON *o, const char *key, char *dst, size_t cap) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    dst[0] = 0;
    if (cJSON_IsString(it)) snprintf(dst, cap, "%s", it->valuestring);
}

/*
 * The generic suite has no context file: its inputs are the documented
 * constants. One vector needs more: get-vanilla-with-session-token's .req has
 * no X-Amz-Security-Token header, because the token comes with the
 * credentials and the signer adds (and signs) the header; its .creq shows the
 * token's value. (aws-c-auth's copy of this vector carries the same token in
 * its context.json.) Its .sreq, unlike its .authz, carries a signature that
 * no input reproduces; .sreq files are not checked here.
 */
static void load_context(const vector *v, context *c) {
    memset(c, 0, sizeof *c);
    if (!v->ddb) {
        snprintf(c->access, sizeof c->access, SUITE_AKID);
        snprintf(c->secret, sizeof c->secret, SUITE_SECRET);
        snprintf(c->region, sizeof c->region, SUITE_REGION);
        snprintf(c->service, sizeof c->service, SUITE_SERVICE);
        snprintf(c->amzdate, sizeof c->amzdate, SUITE_DATE);
        if (strcmp(v->name, "get-vanilla-with-session-token") == 0)
            snprintf(c->token, sizeof c->token,
                     "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
        return;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/context.json", v->dir);
    char *txt = ct_read_file(path, NULL);
    assert_non_null(txt);
    cJSON *o = cJSON_Parse(txt);
    assert_non_null(o);
    copy_json_str(o, "access", c->access, sizeof c->access);
    copy_json_str(o, "secret", c->secret, sizeof c->secret);
    copy_json_str(o, "token", c->token, sizeof c->token);
    copy_json_str(o, "region", c->region, sizeof c->region);
    copy_json_str(o, "service", c->service, sizeof c->service);
    copy_json_str(o, "amzdate", c->amzdate, sizeof c->amzdate);
    const cJSON *uh = cJSON_GetObjectItemCaseSensitive(o, "unsigned_headers");
    const cJSON *it;
    cJSON_ArrayForEach(it, uh) {
        assert_true(cJSON_IsString(it) && c->nunsigned < 8);
        snprintf(c->unsigned_headers[c->nunsigned++], 64, "%s", it->valuestring);
    }
    cJSON_Delete(o);
    free(txt);
}

static bool name_is(dx_str n, const char *s) {
    if (n.len != strlen(s)) return false;
    for (size_t i = 0; i < n.len; i++) {
        char a = n.ptr[i], b = s[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

static char *read_expected(const vector *v, const char *ext) {
    char path[1300];
    snprintf(path, sizeof path, "%s/%s.%s", v->dir, v->name, ext);
    char *s = ct_read_file(path, NULL);
    if (!s) fprintf(stderr, "vector %s: cannot read %s\n", v->name, path);
    assert_non_null(s);
    return s;
}

/* Byte-for-byte comparison that prints both sides, and the vector, on failure. */
static void expect_same(const char *vec, const char *what, const char *want, const char *got) {
    if (got && strcmp(want, got) == 0) return;
    fprintf(stderr, "vector %s: %s differs\n--- expected ---\n%s\n--- got ---\n%s\n--- end ---\n",
            vec, what, want, got ? got : "(null)");
    fail();
}

static dx_sigv4_signer *g_signer; /* shared by every vector: exercises the cache too */

static void run_vector(void **state) {
    const vector *v = *state;
    context c;
    load_context(v, &c);
    size_t len;
    char path[1300];
    snprintf(path, sizeof path, "%s/%s.req", v->dir, v->name);
    char *text = ct_read_file(path, &len);
    assert_non_null(text);
    parsed_req p;
    parse_req(text, len, &p);

    /* Headers listed as unsigned in context.json are sent but not signed. */
    dx_sigv4_header hs[32];
    size_t nh = 0;
    for (size_t i = 0; i < p.nh; i++) {
        bool skip = false;
        for (size_t j = 0; j < c.nunsigned; j++) skip |= name_is(p.h[i].name, c.unsigned_headers[j]);
        if (!skip) hs[nh++] = p.h[i];
    }
    dx_sigv4_request req = {
        .method = p.method,
        .path = p.path,
        .query = p.query,
        .headers = hs,
        .nheaders = nh,
        .payload = p.body,
    };
    dx_sigv4_creds cr = {c.access, c.secret, c.token[0] ? c.token : NULL};
    char *creq = read_expected(v, "creq"), *sts = read_expected(v, "sts"),
         *authz = read_expected(v, "authz");

    /* End to end. */
    dx_sigv4_output out = {0};
    dx_result r;
    dx_result_clear(&r);
    dx_err e = dx_sigv4_sign(g_signer, &cr, c.region, c.service, c.amzdate, &req, &out, &r);
    if (e != DX_OK) fprintf(stderr, "vector %s: dx_sigv4_sign: %s\n", v->name, r.message);
    assert_int_equal(e, DX_OK);
    expect_same(v->name, "canonical request", creq, out.canonical_request.ptr);
    expect_same(v->name, "string to sign", sts, out.string_to_sign.ptr);
    expect_same(v->name, "Authorization", authz, out.authorization.ptr);
    /* The token header is added only when the credentials carry a token the request lacks. */
    bool req_has_token = false;
    for (size_t i = 0; i < p.nh; i++) req_has_token |= name_is(p.h[i].name, "x-amz-security-token");
    assert_int_equal(out.token_added, c.token[0] != 0 && !req_has_token);

    /* Stage by stage, each from the expected output of the stage before. */
    dx_buf b = {0};
    assert_int_equal(dx_sigv4_string_to_sign(c.amzdate, c.region, c.service, dx_str_c(creq), &b, &r),
                     DX_OK);
    expect_same(v->name, "string to sign (from expected .creq)", sts, b.ptr);
    unsigned char key[DX_SIGV4_KEY_LEN];
    assert_int_equal(dx_sigv4_signing_key(c.secret, c.amzdate, c.region, c.service, key, &r), DX_OK);
    char sig[DX_SIGV4_HEX_LEN + 1];
    assert_int_equal(dx_sigv4_signature(key, dx_str_c(sts), sig), DX_OK);
    const char *want_sig = strstr(authz, "Signature=");
    assert_non_null(want_sig);
    expect_same(v->name, "signature (from expected .sts)", want_sig + 10, sig);
    const char *sh = strstr(authz, "SignedHeaders=");
    assert_non_null(sh);
    char signed_list[512];
    snprintf(signed_list, sizeof signed_list, "%.*s", (int)(strcspn(sh + 14, ",")), sh + 14);
    assert_int_equal(dx_sigv4_authorization(c.access, c.amzdate, c.region, c.service, signed_list,
                                            sig, &b, &r),
                     DX_OK);
    expect_same(v->name, "Authorization (from expected parts)", authz, b.ptr);

    dx_memwipe(key, sizeof key);
    dx_buf_free(&b);
    dx_sigv4_output_free(&out);
    free(creq);
    free(sts);
    free(authz);
    free(text);
}

/* ------------------------------------------------------------ unit tests */

static void test_amzdate(void **state) {
    (void)state;
    char d[DX_SIGV4_AMZDATE_LEN + 1];
    assert_int_equal(dx_sigv4_amzdate(1440938160, d), DX_OK); /* the suite's time */
    assert_string_equal(d, "20150830T123600Z");
    assert_int_equal(dx_sigv4_amzdate(0, d), DX_OK);
    assert_string_equal(d, "19700101T000000Z");
    assert_int_equal(dx_sigv4_amzdate(-1, d), DX_ERR_INVALID_ARG);
    assert_int_equal(dx_sigv4_amzdate(253402300800LL, d), DX_ERR_INVALID_ARG);

    static const struct {
        const char *s;
        bool ok;
    } rows[] = {
        {"20150830T123600Z", true}, {"20150830T123600", false}, {"20150830 123600Z", false},
        {"2015083OT123600Z", false}, {"20150830T123600Z0", false}, {"", false},
        {"20150830t123600z", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] amzdate '%s'\n", i, rows[i].s);
        assert_int_equal(dx_sigv4_amzdate_valid(rows[i].s), rows[i].ok);
    }
    assert_false(dx_sigv4_amzdate_valid(NULL));
}

static void test_canonical_uri(void **state) {
    (void)state;
    static const struct {
        const char *in;
        unsigned flags;
        const char *want;
    } rows[] = {
        {"", 0, "/"},
        {"/", 0, "/"},
        {"//", 0, "/"},
        {"/a/./b/../c", 0, "/a/c"},
        {"/a/b/..", 0, "/a"},
        {"/a/b/../", 0, "/a/"},
        {"/..", 0, "/"},
        {"/../../x", 0, "/x"},
        {"/./", 0, "/"},
        {"a", 0, "/a"},
        {"/a/", 0, "/a/"},
        {"//a//b//", 0, "/a/b/"},
        {"/a b", 0, "/a%20b"},
        {"/%41", 0, "/%2541"},          /* an encoded path is encoded again */
        {"/a+b=c", 0, "/a%2Bb%3Dc"},
        {"/\xe1\x88\xb4", 0, "/%E1%88%B4"},
        {"/-._~AZaz09", 0, "/-._~AZaz09"},
        {"/a/b", 0, "/a/b"},           /* already normal: the fast path */
        {"/a/.", 0, "/a"},
        {"/.a/..b/c..", 0, "/.a/..b/c.."}, /* dots inside names are not dot segments */
        {"/a/..", 0, "/"},
        {"/a//", 0, "/a/"},
        {"//a/./b", DX_SIGV4_NO_NORMALIZE_PATH, "//a/./b"},
        {"/a%20b", DX_SIGV4_NO_ENCODE_PATH, "/a%20b"},
        {"//a/../b c", DX_SIGV4_NO_NORMALIZE_PATH | DX_SIGV4_NO_ENCODE_PATH, "//a/../b c"},
    };
    dx_buf out = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] uri '%s' flags %u\n", i, rows[i].in, rows[i].flags);
        assert_int_equal(dx_sigv4_canonical_uri(dx_str_c(rows[i].in), rows[i].flags, &out, NULL), DX_OK);
        assert_string_equal(out.ptr, rows[i].want);
    }
    dx_buf_free(&out);
}

static void test_canonical_query(void **state) {
    (void)state;
    static const struct {
        const char *in, *want;
    } rows[] = {
        {"", ""},
        {"a=1", "a=1"},
        {"b=2&a=1", "a=1&b=2"},
        {"a", "a="},
        {"a=&a", "a=&a="},
        {"a=1&&b=2&", "a=1&b=2"},
        {"%7e=%7E", "~=~"},
        {"a=b c", "a=b%20c"},
        {"a=%2", "a=%252"},
        {"x=%zz", "x=%25zz"},
        {"a+b=c", "a%2Bb=c"},
        {"k=a/b", "k=a%2Fb"},
        {"Param-3=3&Param=2", "Param=2&Param-3=3"}, /* by name first, not by "name=value" */
        {"p=b&p=a&p=B", "p=B&p=a&p=b"},
        {"a=1=2", "a=1%3D2"},
        {"\xe1\x88\xb4=bar", "%E1%88%B4=bar"},
        {"%E1%88%B4=bar", "%E1%88%B4=bar"},
    };
    dx_buf out = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] query '%s'\n", i, rows[i].in);
        assert_int_equal(dx_sigv4_canonical_query(dx_str_c(rows[i].in), &out, NULL), DX_OK);
        assert_string_equal(out.ptr, rows[i].want);
    }
    dx_buf_free(&out);
}

#define H(n, v) {{n, sizeof(n) - 1}, {v, sizeof(v) - 1}}

static void test_canonical_headers(void **state) {
    (void)state;
    const dx_sigv4_header hs[] = {
        H("X-Amz-Date", "20150830T123600Z"),
        H("host", "  example.com  "),
        H("My-Header", "b"),
        H("my-header", "  a  \t b  "),
        H("Folded", "one\r\n  two\n\tthree"),
        H("Empty", ""),
        H("MY-HEADER", "c"),
    };
    dx_buf canon = {0}, sh = {0};
    assert_int_equal(dx_sigv4_canonical_headers(hs, sizeof hs / sizeof hs[0], &canon, &sh, NULL), DX_OK);
    assert_string_equal(canon.ptr,
                        "empty:\n"
                        "folded:one two three\n"
                        "host:example.com\n"
                        "my-header:b,a b,c\n"
                        "x-amz-date:20150830T123600Z\n");
    assert_string_equal(sh.ptr, "empty;folded;host;my-header;x-amz-date");

    /* Malformed names are refused, naming the position, not the value. */
    static const char *bad[] = {"", "a b", "a:b", "a\tb", "a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        printf("[%zu] bad header name '%s'\n", i, bad[i]);
        dx_sigv4_header h = {dx_str_c(bad[i]), dx_str_c("v")};
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_sigv4_canonical_headers(&h, 1, &canon, &sh, &r), DX_ERR_INVALID_ARG);
        assert_non_null(strstr(r.message, "header 0"));
    }
    /* No headers is a valid (empty) block. */
    assert_int_equal(dx_sigv4_canonical_headers(NULL, 0, &canon, &sh, NULL), DX_OK);
    assert_string_equal(canon.ptr, "");
    assert_string_equal(sh.ptr, "");
    dx_buf_free(&canon);
    dx_buf_free(&sh);
}

static void test_payload_hash(void **state) {
    (void)state;
    char h[DX_SIGV4_HEX_LEN + 1];
    assert_int_equal(dx_sigv4_payload_hash(dx_str_c(""), h), DX_OK);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(dx_sigv4_payload_hash((dx_str){NULL, 0}, h), DX_OK);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(dx_sigv4_payload_hash(dx_str_c("Param1=value1"), h), DX_OK);
    assert_string_equal(h, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
}

static void test_canonical_request_payload_hash_given(void **state) {
    (void)state;
    const dx_sigv4_header hs[] = {H("Host", "h"), H("X-Amz-Date", SUITE_DATE)};
    dx_sigv4_request req = {.method = "PUT", .path = dx_str_c("/k"), .headers = hs, .nheaders = 2,
                            .payload = dx_str_c("ignored"), .payload_hash = "UNSIGNED-PAYLOAD"};
    dx_buf out = {0}, sh = {0};
    assert_int_equal(dx_sigv4_canonical_request(&req, NULL, &out, &sh, NULL), DX_OK);
    assert_string_equal(out.ptr, "PUT\n/k\n\nhost:h\nx-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\nUNSIGNED-PAYLOAD");
    /* An explicit argument wins over the request's field. */
    assert_int_equal(dx_sigv4_canonical_request(&req, "abc", &out, &sh, NULL), DX_OK);
    assert_non_null(strstr(out.ptr, "\nabc"));
    /* No Host header: refused with a message that says what to do. */
    req.headers = hs + 1;
    req.nheaders = 1;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_sigv4_canonical_request(&req, NULL, &out, &sh, &r), DX_ERR_INVALID_ARG);
    assert_non_null(strstr(r.message, "Host"));
    dx_buf_free(&out);
    dx_buf_free(&sh);
}

static void test_scope_and_string_to_sign(void **state) {
    (void)state;
    dx_buf b = {0};
    assert_int_equal(dx_sigv4_scope(SUITE_DATE, "eu-west-1", "dynamodb", &b, NULL), DX_OK);
    assert_string_equal(b.ptr, "20150830/eu-west-1/dynamodb/aws4_request");
    assert_int_equal(dx_sigv4_string_to_sign(SUITE_DATE, "r", "s", dx_str_c(""), &b, NULL), DX_OK);
    assert_string_equal(b.ptr, "AWS4-HMAC-SHA256\n" SUITE_DATE "\n20150830/r/s/aws4_request\n"
                               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    static const struct {
        const char *date, *region, *service, *field;
    } bad[] = {
        {"20150830", "r", "s", "amzdate"},   {NULL, "r", "s", "amzdate"},
        {SUITE_DATE, "", "s", "region"},     {SUITE_DATE, "a/b", "s", "region"},
        {SUITE_DATE, "a b", "s", "region"},  {SUITE_DATE, "r", "", "service"},
        {SUITE_DATE, NULL, "s", "region"},   {SUITE_DATE, "r", "x/y", "service"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        printf("[%zu] bad scope (%s, %s, %s)\n", i, bad[i].date ? bad[i].date : "NULL",
               bad[i].region ? bad[i].region : "NULL", bad[i].service ? bad[i].service : "NULL");
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_sigv4_scope(bad[i].date, bad[i].region, bad[i].service, &b, &r),
                         DX_ERR_INVALID_ARG);
        assert_string_equal(r.field, bad[i].field);
    }
    dx_buf_free(&b);
}

static void hex(const unsigned char *k, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", k[i]);
}

static void test_signing_key(void **state) {
    (void)state;
    unsigned char key[DX_SIGV4_KEY_LEN];
    char h[65];
    /* The derivation example of AWS's SigV4 documentation (IAM, 2012-02-15). */
    assert_int_equal(dx_sigv4_signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam", key, NULL), DX_OK);
    hex(key, sizeof key, h);
    assert_string_equal(h, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    /* A full X-Amz-Date gives the same key as its date part. */
    assert_int_equal(dx_sigv4_signing_key(SUITE_SECRET, "20120215T235959Z", "us-east-1", "iam", key, NULL), DX_OK);
    hex(key, sizeof key, h);
    assert_string_equal(h, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    assert_int_equal(dx_sigv4_signing_key(SUITE_SECRET, SUITE_DATE, SUITE_REGION, SUITE_SERVICE, key, NULL), DX_OK);
    hex(key, sizeof key, h);
    assert_string_equal(h, "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");

    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_sigv4_signing_key("", SUITE_DATE, "r", "s", key, &r), DX_ERR_INVALID_ARG);
    assert_int_equal(dx_sigv4_signing_key(SUITE_SECRET, "2015083", "r", "s", key, &r), DX_ERR_INVALID_ARG);
    assert_null(strstr(r.message, SUITE_SECRET));
    /* A failed derivation leaves no key behind. */
    for (size_t i = 0; i < sizeof key; i++) assert_int_equal(key[i], 0);

    /* HMAC keys around SHA-256's 64-byte block: "AWS4" + secret of 64 bytes is used as
     * is, 65 bytes and more are hashed first (RFC 2104); beyond 124 bytes the secret
     * also leaves the stack buffer. Expected keys from Python's hmac module. */
    static const struct {
        char ch;
        size_t len;
        const char *key;
    } rows[] = {
        {'j', 60, "c2826a911a6a0afe6bf839498f4b8f84c08b8f0d5a99e929349b3f55799b8c41"},
        {'j', 61, "30e310cdf09a021932ae17b36e41032f0846e0e697d3412ed8387879c484803e"},
        {'k', 299, "e692936a8ec7390937972fee62b0123e769ca404007e2a3c4e5d62946dbd7b90"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char sec[300];
        memset(sec, rows[i].ch, rows[i].len);
        sec[rows[i].len] = 0;
        print_message("row %zu: secret of %zu bytes\n", i, rows[i].len);
        assert_int_equal(dx_sigv4_signing_key(sec, SUITE_DATE, "r", "s", key, NULL), DX_OK);
        hex(key, sizeof key, h);
        assert_string_equal(h, rows[i].key);
    }
}

static void test_signature_and_authorization(void **state) {
    (void)state;
    unsigned char key[DX_SIGV4_KEY_LEN];
    assert_int_equal(dx_sigv4_signing_key(SUITE_SECRET, SUITE_DATE, SUITE_REGION, SUITE_SERVICE, key, NULL), DX_OK);
    /* get-vanilla's string to sign and signature. */
    const char *sts = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63";
    char sig[65];
    assert_int_equal(dx_sigv4_signature(key, dx_str_c(sts), sig), DX_OK);
    assert_string_equal(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    dx_buf b = {0};
    assert_int_equal(dx_sigv4_authorization(SUITE_AKID, SUITE_DATE, SUITE_REGION, SUITE_SERVICE,
                                            "host;x-amz-date", sig, &b, NULL),
                     DX_OK);
    assert_string_equal(b.ptr, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                               "SignedHeaders=host;x-amz-date, "
                               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    static const struct {
        const char *akid, *sh, *sig, *field;
    } bad[] = {
        {"", "host", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "access_key_id"},
        {"A/B", "host", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "access_key_id"},
        {"A,B", "host", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "access_key_id"},
        {"AK", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "signed_headers"},
        {"AK", "host", "5fa0", "signature"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        printf("[%zu] bad authorization input (field %s)\n", i, bad[i].field);
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_sigv4_authorization(bad[i].akid, SUITE_DATE, "r", "s", bad[i].sh, bad[i].sig, &b, &r),
                         DX_ERR_INVALID_ARG);
        assert_string_equal(r.field, bad[i].field);
        assert_null(strstr(r.message, bad[i].sig)); /* signatures are not echoed */
    }
    dx_buf_free(&b);
}

/* A minimal signed request used by the cache and thread tests. */
static dx_err sign_simple(dx_sigv4_signer *s, const char *akid, const char *secret, const char *date,
                          const char *region, dx_sigv4_output *out) {
    dx_sigv4_header hs[] = {H("Host", "example.amazonaws.com"), {dx_str_c("X-Amz-Date"), dx_str_c(date)}};
    dx_sigv4_request req = {.method = "GET", .path = dx_str_c("/"), .headers = hs, .nheaders = 2};
    dx_sigv4_creds c = {akid, secret, NULL};
    return dx_sigv4_sign(s, &c, region, "service", date, &req, out, NULL);
}

static void test_signer_cache(void **state) {
    (void)state;
    dx_sigv4_signer *s = dx_sigv4_signer_new();
    assert_non_null(s);
    dx_sigv4_output a = {0}, b = {0};

    assert_int_equal(sign_simple(s, SUITE_AKID, SUITE_SECRET, SUITE_DATE, SUITE_REGION, &a), DX_OK);
    /* get-vanilla's published signature, through the cache. */
    assert_string_equal(a.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    dx_sigv4_signer_stats st = dx_sigv4_signer_stats_get(s);
    assert_int_equal(st.derives, 1);
    assert_int_equal(st.hits, 0);

    /* Same day, later time: a hit, and the same result as signing without a cache. */
    assert_int_equal(sign_simple(s, SUITE_AKID, SUITE_SECRET, "20150830T235959Z", SUITE_REGION, &a), DX_OK);
    assert_int_equal(sign_simple(NULL, SUITE_AKID, SUITE_SECRET, "20150830T235959Z", SUITE_REGION, &b), DX_OK);
    assert_string_equal(a.signature, b.signature);
    st = dx_sigv4_signer_stats_get(s);
    assert_int_equal(st.derives, 1);
    assert_int_equal(st.hits, 1);

    /* Next day, other region, other access key: each a new key. */
    assert_int_equal(sign_simple(s, SUITE_AKID, SUITE_SECRET, "20150831T000000Z", SUITE_REGION, &a), DX_OK);
    assert_int_equal(sign_simple(s, SUITE_AKID, SUITE_SECRET, SUITE_DATE, "eu-west-1", &a), DX_OK);
    assert_int_equal(sign_simple(s, "AKIDOTHER", SUITE_SECRET, SUITE_DATE, SUITE_REGION, &a), DX_OK);
    st = dx_sigv4_signer_stats_get(s);
    assert_int_equal(st.derives, 4);

    /* Same access key, different secret (a rotation): never the stale key. */
    assert_int_equal(sign_simple(s, SUITE_AKID, "another-secret", SUITE_DATE, SUITE_REGION, &a), DX_OK);
    assert_int_equal(sign_simple(NULL, SUITE_AKID, "another-secret", SUITE_DATE, SUITE_REGION, &b), DX_OK);
    assert_string_equal(a.signature, b.signature);
    assert_string_not_equal(a.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    st = dx_sigv4_signer_stats_get(s);
    assert_int_equal(st.derives, 5);

    /* More combinations than slots: evictions keep every answer right. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20; i++) {
            char region[32];
            snprintf(region, sizeof region, "region-%d", i);
            printf("[%d/%d] cache eviction round\n", round, i);
            assert_int_equal(sign_simple(s, SUITE_AKID, SUITE_SECRET, SUITE_DATE, region, &a), DX_OK);
            assert_int_equal(sign_simple(NULL, SUITE_AKID, SUITE_SECRET, SUITE_DATE, region, &b), DX_OK);
            assert_string_equal(a.signature, b.signature);
        }
    }
    /* The most recent key survives the churn. */
    st = dx_sigv4_signer_stats_get(s);
    assert_int_equal(sign_simple(s, SUITE_AKID, SUITE_SECRET, SUITE_DATE, "region-19", &a), DX_OK);
    dx_sigv4_signer_stats st2 = dx_sigv4_signer_stats_get(s);
    assert_int_equal(st2.hits, st.hits + 1);
    assert_int_equal(st2.derives, st.derives);

    dx_sigv4_output_free(&a);
    dx_sigv4_output_free(&b);
    dx_sigv4_signer_free(s);
    dx_sigv4_signer_free(NULL);
}

typedef struct thread_arg {
    dx_sigv4_signer *s;
    int id;
    int bad;
} thread_arg;

static void *signing_thread(void *p) {
    thread_arg *t = p;
    dx_sigv4_output out = {0};
    for (int i = 0; i < 300; i++) {
        /* Alternate among a few regions so hits, misses and evictions interleave. */
        char region[32];
        snprintf(region, sizeof region, "r%d", (i + t->id) % 11);
        dx_sigv4_output ref = {0};
        if (sign_simple(t->s, SUITE_AKID, SUITE_SECRET, SUITE_DATE, region, &out) != DX_OK ||
            sign_simple(NULL, SUITE_AKID, SUITE_SECRET, SUITE_DATE, region, &ref) != DX_OK ||
            strcmp(out.signature, ref.signature) != 0)
            t->bad++;
        /* Each thread hashes with its own digest context: known answers, concurrently. */
        char ph[DX_SIGV4_HEX_LEN + 1];
        if (dx_sigv4_payload_hash(dx_str_c(i % 2 ? "abc" : ""), ph) != DX_OK ||
            strcmp(ph, i % 2 ? "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                             : "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") != 0)
            t->bad++;
        dx_sigv4_output_free(&ref);
    }
    dx_sigv4_output_free(&out);
    return NULL;
}

static void test_signer_threads(void **state) {
    (void)state;
    dx_sigv4_signer *s = dx_sigv4_signer_new();
    assert_non_null(s);
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){s, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, signing_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        printf("[%d] thread mismatches: %d\n", i, args[i].bad);
        assert_int_equal(args[i].bad, 0);
    }
    dx_sigv4_signer_stats st = dx_sigv4_signer_stats_get(s);
    assert_int_equal(st.hits + st.derives, 4 * 300);
    assert_true(st.hits > 0);
    dx_sigv4_signer_free(s);
}

static void test_session_token(void **state) {
    (void)state;
    const char *tok = "FQoGZXIvYXdzEXAMPLETOKEN//+=";
    dx_sigv4_header hs[] = {H("Host", "example.amazonaws.com"), H("X-Amz-Date", SUITE_DATE)};
    dx_sigv4_request req = {.method = "GET", .path = dx_str_c("/"), .headers = hs, .nheaders = 2};
    dx_sigv4_creds c = {SUITE_AKID, SUITE_SECRET, tok};
    dx_sigv4_output out = {0};
    assert_int_equal(dx_sigv4_sign(NULL, &c, SUITE_REGION, SUITE_SERVICE, SUITE_DATE, &req, &out, NULL), DX_OK);
    assert_true(out.token_added);
    assert_string_equal(out.signed_headers.ptr, "host;x-amz-date;x-amz-security-token");
    assert_non_null(strstr(out.canonical_request.ptr, "\nx-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN//+=\n"));

    /* Already among the headers: signed once, as given, and not reported as added. */
    dx_sigv4_header hs2[] = {H("Host", "example.amazonaws.com"), H("X-Amz-Date", SUITE_DATE),
                             {dx_str_c("x-amz-security-token"), dx_str_c(tok)}};
    dx_sigv4_output out2 = {0};
    req.headers = hs2;
    req.nheaders = 3;
    assert_int_equal(dx_sigv4_sign(NULL, &c, SUITE_REGION, SUITE_SERVICE, SUITE_DATE, &req, &out2, NULL), DX_OK);
    assert_false(out2.token_added);
    assert_string_equal(out2.canonical_request.ptr, out.canonical_request.ptr);
    assert_string_equal(out2.authorization.ptr, out.authorization.ptr);

    /* Empty token means none. */
    c.session_token = "";
    req.headers = hs;
    req.nheaders = 2;
    assert_int_equal(dx_sigv4_sign(NULL, &c, SUITE_REGION, SUITE_SERVICE, SUITE_DATE, &req, &out, NULL), DX_OK);
    assert_false(out.token_added);
    assert_string_equal(out.signed_headers.ptr, "host;x-amz-date");
    dx_sigv4_output_free(&out);
    dx_sigv4_output_free(&out2);
}

/* Every error path of dx_sigv4_sign: the right code and field, and a message
 * that never contains the secret, the token or a signature. */
static void test_errors_hold_no_secrets(void **state) {
    (void)state;
    const char *secret = "TOPSECRETKEYzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
    const char *token = "SESSIONTOKENyyyyyyyyyyyyyyyy";
    dx_sigv4_header good[] = {H("Host", "example.amazonaws.com"), H("X-Amz-Date", SUITE_DATE)};
    dx_sigv4_header nohost[] = {H("X-Amz-Date", SUITE_DATE)};
    dx_sigv4_header otherdate[] = {H("Host", "h"), H("X-Amz-Date", "20150830T000000Z")};
    dx_sigv4_header badname[] = {H("Host", "h"), H("Bad Name", "v")};
    static const char *badtoken = "SESSIONTOKEN\r\nInjected: yes";
    struct {
        const char *akid, *secret, *token, *region, *service, *date;
        dx_sigv4_header *hs;
        size_t nh;
        const char *field;
    } rows[] = {
        {"", secret, token, "r", "s", SUITE_DATE, good, 2, "access_key_id"},
        {NULL, secret, token, "r", "s", SUITE_DATE, good, 2, "access_key_id"},
        {"AK ID", secret, token, "r", "s", SUITE_DATE, good, 2, "access_key_id"},
        {"AKID", "", token, "r", "s", SUITE_DATE, good, 2, "secret_access_key"},
        {"AKID", NULL, token, "r", "s", SUITE_DATE, good, 2, "secret_access_key"},
        {"AKID", secret, token, "", "s", SUITE_DATE, good, 2, "region"},
        {"AKID", secret, token, "r", "a/b", SUITE_DATE, good, 2, "service"},
        {"AKID", secret, token, "r", "s", "yesterday", good, 2, "amzdate"},
        {"AKID", secret, token, "r", "s", SUITE_DATE, nohost, 1, "host"},
        {"AKID", secret, token, "r", "s", SUITE_DATE, otherdate, 2, "x-amz-date"},
        {"AKID", secret, token, "r", "s", SUITE_DATE, badname, 2, "headers"},
        {"AKID", secret, badtoken, "r", "s", SUITE_DATE, good, 2, "session_token"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] sign error, expecting field '%s'\n", i, rows[i].field);
        dx_sigv4_request req = {.method = "GET", .path = dx_str_c("/"), .headers = rows[i].hs,
                                .nheaders = rows[i].nh};
        dx_sigv4_creds c = {rows[i].akid, rows[i].secret, rows[i].token};
        dx_sigv4_output out = {0};
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_sigv4_sign(NULL, &c, rows[i].region, rows[i].service, rows[i].date, &req, &out, &r);
        printf("     -> %s\n", r.message);
        assert_int_equal(e, DX_ERR_INVALID_ARG);
        assert_int_equal(r.err, DX_ERR_INVALID_ARG);
        assert_string_equal(r.field, rows[i].field);
        assert_true(strlen(r.message) > 10);
        assert_null(strstr(r.message, "TOPSECRET"));
        assert_null(strstr(r.message, "SESSIONTOKEN"));
        assert_string_equal(out.signature, "");
        assert_false(out.token_added);
        dx_sigv4_output_free(&out);
    }

    /* The DynamoDB helper's checks too. */
    dx_sigv4_creds c = {"AKID", secret, token};
    struct {
        const char *host, *target, *region, *date, *field;
        const char *tok;
    } ddb[] = {
        {"", "DynamoDB_20120810.PutItem", "us-east-1", SUITE_DATE, "host", token},
        {"h/x", "DynamoDB_20120810.PutItem", "us-east-1", SUITE_DATE, "host", token},
        {"h\r\nX: y", "DynamoDB_20120810.PutItem", "us-east-1", SUITE_DATE, "host", token},
        {"h", "", "us-east-1", SUITE_DATE, "target", token},
        {"h", "T\nX", "us-east-1", SUITE_DATE, "target", token},
        {"h", "T", "", SUITE_DATE, "region", token},
        {"h", "T", "us-east-1", "2015", "amzdate", token},
        {"h", "T", "us-east-1", SUITE_DATE, "session_token", badtoken},
    };
    for (size_t i = 0; i < sizeof ddb / sizeof ddb[0]; i++) {
        printf("[%zu] ddb sign error, expecting field '%s'\n", i, ddb[i].field);
        c.session_token = ddb[i].tok;
        dx_sigv4_ddb_request q = {ddb[i].host, ddb[i].target, dx_str_c("{}"), ddb[i].date, ddb[i].region, &c, 0};
        dx_sigv4_headers hs = {0};
        dx_result r;
        dx_result_clear(&r);
        assert_int_equal(dx_sigv4_sign_dynamodb(NULL, &q, &hs, &r), DX_ERR_INVALID_ARG);
        printf("     -> %s\n", r.message);
        assert_string_equal(r.field, ddb[i].field);
        assert_int_equal(hs.count, 0);
        assert_null(strstr(r.message, "TOPSECRET"));
        assert_null(strstr(r.message, "SESSIONTOKEN"));
        dx_sigv4_headers_free(&hs);
    }
}

/* Splits the header lines of a .sreq (between the request line and the blank line). */
static size_t sreq_lines(char *text, char **lines, size_t max) {
    size_t n = 0;
    char *save = NULL;
    char *l = strtok_r(text, "\n", &save); /* request line */
    while ((l = strtok_r(NULL, "\n", &save)) != NULL && *l != '{' && n < max) lines[n++] = l;
    return n;
}

/*
 * dx_sigv4_sign_dynamodb on the eulalie DescribeTable vector (which signs
 * Content-Length): the Authorization must match the published one, and the
 * header set must be exactly the .sreq's, i.e. what is sent is what was signed.
 */
static void test_dynamodb_vector(void **state) {
    (void)state;
    vector v;
    snprintf(v.dir, sizeof v.dir, "%s/sigv4-dynamodb/ddb-describetable-eulalie", data_root());
    snprintf(v.name, sizeof v.name, "ddb-describetable-eulalie");
    v.ddb = true;
    context c;
    load_context(&v, &c);
    char *authz = read_expected(&v, "authz");
    char *sreq = read_expected(&v, "sreq");

    dx_sigv4_creds cr = {c.access, c.secret, NULL};
    dx_sigv4_ddb_request q = {
        .host = "dynamodb.us-east-1.amazonaws.com",
        .target = "DynamoDB_20120810.DescribeTable",
        .body = dx_str_c("{\"TableName\":\"table-name\"}"),
        .amzdate = c.amzdate,
        .region = c.region,
        .creds = &cr,
        .flags = DX_SIGV4_SIGN_CONTENT_LENGTH,
    };
    dx_sigv4_signer *s = dx_sigv4_signer_new();
    dx_sigv4_headers hs = {0};
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_sigv4_sign_dynamodb(s, &q, &hs, &r), DX_OK);
    expect_same(v.name, "Authorization", authz, dx_sigv4_headers_get(&hs, "authorization"));

    char *lines[16];
    size_t nl = sreq_lines(sreq, lines, 16);
    assert_int_equal(nl, hs.count);
    for (size_t i = 0; i < nl; i++) {
        /* .sreq writes "Name:value" (and "Authorization: value"); ours is "Name: value". */
        char *colon = strchr(lines[i], ':');
        assert_non_null(colon);
        *colon = 0;
        const char *val = colon[1] == ' ' ? colon + 2 : colon + 1;
        const char *got = dx_sigv4_headers_get(&hs, lines[i]);
        printf("[%zu] %s\n", i, lines[i]);
        assert_non_null(got);
        assert_string_equal(got, val);
    }
    /* Order and line format. */
    static const char *order[] = {"Host", "X-Amz-Date", "X-Amz-Target", "Content-Type", "Content-Length", "Authorization"};
    for (size_t i = 0; i < hs.count; i++) {
        char want[600];
        snprintf(want, sizeof want, "%s: %s", order[i], hs.h[i].value);
        assert_string_equal(hs.h[i].name, order[i]);
        assert_string_equal(hs.h[i].line, want);
    }

    /* Reuse of the same struct for a second request, with a session token and
     * without Content-Length: the set changes accordingly. */
    cr.session_token = "tok+/=";
    q.flags = 0;
    q.target = "DynamoDB_20120810.PutItem";
    assert_int_equal(dx_sigv4_sign_dynamodb(s, &q, &hs, &r), DX_OK);
    assert_int_equal(hs.count, 6);
    assert_string_equal(hs.h[4].line, "X-Amz-Security-Token: tok+/=");
    assert_null(dx_sigv4_headers_get(&hs, "content-length"));
    assert_string_equal(hs.out.signed_headers.ptr, "content-type;host;x-amz-date;x-amz-security-token;x-amz-target");
    assert_false(hs.out.token_added); /* it is in the set already */

    /* Signing the produced headers generically gives the same Authorization. */
    dx_sigv4_header gen[8];
    size_t ng = 0;
    for (size_t i = 0; i + 1 < hs.count; i++)
        gen[ng++] = (dx_sigv4_header){dx_str_c(hs.h[i].name), dx_str_c(hs.h[i].value)};
    dx_sigv4_request req = {.method = "POST", .path = dx_str_c("/"), .headers = gen, .nheaders = ng,
                            .payload = q.body};
    dx_sigv4_output out = {0};
    assert_int_equal(dx_sigv4_sign(NULL, &cr, q.region, "dynamodb", q.amzdate, &req, &out, &r), DX_OK);
    assert_string_equal(out.authorization.ptr, dx_sigv4_headers_get(&hs, "Authorization"));

    dx_sigv4_output_free(&out);
    dx_sigv4_headers_free(&hs);
    dx_sigv4_headers_free(NULL);
    dx_sigv4_output_free(NULL);
    dx_sigv4_signer_free(s);
    free(authz);
    free(sreq);
}

int main(void) {
    const char *root = data_root();
    char dir[1100];
    vector_list suite = {0}, ddb = {0};
    snprintf(dir, sizeof dir, "%s/sigv4-testsuite", root);
    if (!is_dir(dir)) {
        fprintf(stderr, "test_sigv4: vector directory %s not found; run from the repository root "
                        "or set DYNOX_TESTDATA to the tests/data directory\n", dir);
        return 1;
    }
    discover(dir, false, &suite);
    snprintf(dir, sizeof dir, "%s/sigv4-dynamodb", root);
    discover(dir, true, &ddb);
    if (suite.n != EXPECTED_SUITE_VECTORS || ddb.n != EXPECTED_DDB_VECTORS) {
        fprintf(stderr, "test_sigv4: found %zu generic and %zu DynamoDB vectors under %s, expected %d and %d\n",
                suite.n, ddb.n, root, EXPECTED_SUITE_VECTORS, EXPECTED_DDB_VECTORS);
        return 1;
    }

    g_signer = dx_sigv4_signer_new();
    size_t nv = suite.n + ddb.n;
    struct CMUnitTest *vt = calloc(nv, sizeof *vt);
    for (size_t i = 0; i < nv; i++) {
        vector *v = i < suite.n ? &suite.v[i] : &ddb.v[i - suite.n];
        vt[i].name = v->name;
        vt[i].test_func = run_vector;
        vt[i].initial_state = v;
    }
    int failed = _cmocka_run_group_tests("sigv4_vectors", vt, nv, NULL, NULL);

    const struct CMUnitTest units[] = {
        cmocka_unit_test(test_amzdate),
        cmocka_unit_test(test_canonical_uri),
        cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_canonical_headers),
        cmocka_unit_test(test_payload_hash),
        cmocka_unit_test(test_canonical_request_payload_hash_given),
        cmocka_unit_test(test_scope_and_string_to_sign),
        cmocka_unit_test(test_signing_key),
        cmocka_unit_test(test_signature_and_authorization),
        cmocka_unit_test(test_signer_cache),
        cmocka_unit_test(test_signer_threads),
        cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_errors_hold_no_secrets),
        cmocka_unit_test(test_dynamodb_vector),
    };
    failed += cmocka_run_group_tests_name("sigv4_units", units, NULL, NULL);

    dx_sigv4_signer_free(g_signer);
    free(vt);
    free(suite.v);
    free(ddb.v);
    return failed ? 1 : 0;
}
