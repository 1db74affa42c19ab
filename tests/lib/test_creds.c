/*
 * test_creds.c - credentials, region and endpoint resolution.
 *
 * The environment is always a fake (a table passed as dx_env), the shared
 * files are fixtures under tests/data/creds/home (used as $HOME), and the
 * container and IMDS endpoints are a tiny HTTP server in this file: a thread
 * with a listening socket on 127.0.0.1 answering canned responses per
 * (method, path), optionally only when a required header is present, and
 * logging every request head so tests can check what was sent. Time is a
 * fake clock, so expiry-driven refresh runs instantly.
 *
 * Every error message a test provokes is checked for the places it names
 * and for the absence of every secret and token the fixtures hold.
 *
 * Must never: read the process environment (other than DYNOX_TESTDATA) or
 * reach a real metadata address: IMDS is disabled or pointed at 127.0.0.1 in
 * every test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dynox/creds.h"
#include "dynox/error.h"

/* ------------------------------------------------------------ fixtures */

static char g_home[PATH_MAX];       /* absolute tests/data/creds/home */
static char g_home_creds[PATH_MAX]; /* .../home/.aws/credentials */
static char g_home_config[PATH_MAX];

/* Every secret or token in the fixtures and tests: none may appear in a message. */
static const char *const SECRETS[] = {
    "defaultSECRET", "devSECRET", "devTOKEN", "partialSECRET", "dupSECRET", "otherSECRET",
    "wrongSECRET", "spacedSECRET", "cfgonlySECRET", "altSECRET", "envSECRET", "envTOKEN",
    "ctrSECRET", "ctrTOKEN", "Bearer-", "FILETOKEN", "imdsSECRET", "imdsTOKEN", "IMDSTOKEN",
};

static void assert_no_secret(const char *m) {
    for (size_t i = 0; i < sizeof SECRETS / sizeof SECRETS[0]; i++) {
        if (strstr(m, SECRETS[i])) {
            fprintf(stderr, "secret '%s' leaked into message: %s\n", SECRETS[i], m);
            fail();
        }
    }
}

static void assert_has(const char *m, const char *want) {
    if (!strstr(m, want)) {
        fprintf(stderr, "message lacks '%s': %s\n", want, m);
        fail();
    }
}

/* ------------------------------------------------------------ fake environment */

typedef struct fake_env {
    const char *kv[32][2];
    size_t n;
} fake_env;

static const char *fake_get(void *ud, const char *name) {
    fake_env *e = ud;
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->kv[i][0], name) == 0) return e->kv[i][1];
    return NULL;
}

static void fe_set(fake_env *e, const char *k, const char *v) {
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->kv[i][0], k) == 0) {
            e->kv[i][1] = v;
            return;
        }
    }
    assert_true(e->n < 32);
    e->kv[e->n][0] = k;
    e->kv[e->n][1] = v;
    e->n++;
}

/* A base environment: HOME at the fixtures, IMDS off. */
static void fe_base(fake_env *e) {
    memset(e, 0, sizeof *e);
    fe_set(e, "HOME", g_home);
    fe_set(e, "AWS_EC2_METADATA_DISABLED", "true");
}

static dx_env as_env(fake_env *e) {
    dx_env d = {fake_get, e};
    return d;
}

/* ------------------------------------------------------------ fake clock */

static _Atomic uint64_t g_now = 1700000000000ull; /* 2023-11-14T22:13:20Z */

static uint64_t fake_clock(void *ud) {
    (void)ud;
    return atomic_load(&g_now);
}

/* ------------------------------------------------------------ tiny HTTP server */

typedef struct route {
    char method[8];
    char path[256];
    int status;
    char body[2048];
    char require[512]; /* a header line that must be present ("Name: value"), else 401 */
    int delay_ms;
} route;

typedef struct srv {
    int fd;
    uint16_t port;
    pthread_t th;
    atomic_bool stop;
    pthread_mutex_t mu;
    route routes[8];
    size_t nroutes;
    char log[64][4096];
    size_t nlog;
} srv;

static bool has_header_line(const char *head, const char *line) {
    /* Header names are case-insensitive; compare whole lines ignoring case of the name part. */
    const char *colon = strchr(line, ':');
    size_t nl = colon ? (size_t)(colon - line) : strlen(line);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2;
        if (strncasecmp(l, line, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ') v++;
            const char *want = colon ? colon + 1 : "";
            while (*want == ' ') want++;
            size_t wl = strlen(want);
            if (strncmp(v, want, wl) == 0 && (v[wl] == '\r' || v[wl] == 0)) return true;
        }
    }
    return false;
}

static void serve_one(srv *s, int c) {
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char head[4096];
    size_t n = 0;
    while (n < sizeof head - 1) {
        ssize_t k = recv(c, head + n, sizeof head - 1 - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
        head[n] = 0;
        if (strstr(head, "\r\n\r\n")) break;
    }
    head[n] = 0;
    char *end = strstr(head, "\r\n\r\n");
    if (!end) return;
    end[2] = 0; /* keep the last header's CRLF */
    char method[8] = "", path[256] = "";
    sscanf(head, "%7s %255s", method, path);

    route rt;
    bool found = false;
    pthread_mutex_lock(&s->mu);
    if (s->nlog < 64) snprintf(s->log[s->nlog++], sizeof s->log[0], "%s", head);
    for (size_t i = 0; i < s->nroutes; i++) {
        if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].path, path) == 0) {
            rt = s->routes[i];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    int status = 404;
    const char *body = "not found";
    if (found) {
        if (rt.delay_ms) usleep((useconds_t)rt.delay_ms * 1000);
        if (rt.require[0] && !has_header_line(head, rt.require)) {
            status = 401;
            body = "missing required header";
        } else {
            status = rt.status;
            body = rt.body;
        }
    }
    char resp[4096];
    int rl = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n%s", status, strlen(body), body);
    ssize_t w = send(c, resp, (size_t)rl, MSG_NOSIGNAL);
    (void)w;
}

static void *srv_main(void *p) {
    srv *s = p;
    while (!atomic_load(&s->stop)) {
        struct pollfd pf = {s->fd, POLLIN, 0};
        if (poll(&pf, 1, 20) <= 0) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) continue;
        serve_one(s, c);
        close(c);
    }
    return NULL;
}

static srv *srv_start(void) {
    srv *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
    return s;
}

static void srv_stop(srv *s) {
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void srv_route(srv *s, const char *method, const char *path, int status, const char *body,
                      const char *require, int delay_ms) {
    pthread_mutex_lock(&s->mu);
    size_t i;
    for (i = 0; i < s->nroutes; i++)
        if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].path, path) == 0) break;
    if (i == s->nroutes) s->nroutes++;
    assert_true(i < 8);
    route *r = &s->routes[i];
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->status = status;
    snprintf(r->body, sizeof r->body, "%s", body);
    snprintf(r->require, sizeof r->require, "%s", require ? require : "");
    r->delay_ms = delay_ms;
    pthread_mutex_unlock(&s->mu);
}

static size_t srv_nlog(srv *s) {
    pthread_mutex_lock(&s->mu);
    size_t n = s->nlog;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static char g_url[128];
static const char *srv_url(srv *s) {
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%u", (unsigned)s->port);
    return g_url;
}

/* A port nothing listens on (bound then closed). */
static uint16_t closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

static void creds_json(char *out, size_t n, const char *akid, const char *secret, const char *token,
                       const char *exp, bool imds) {
    snprintf(out, n,
             "{%s\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\",\"Token\":\"%s\","
             "\"Expiration\":\"%s\"%s}",
             imds ? "\"Code\":\"Success\",\"LastUpdated\":\"2023-11-14T22:00:00Z\",\"Type\":\"AWS-HMAC\"," : "",
             akid, secret, token, exp, imds ? "" : ",\"RoleArn\":\"arn:aws:iam::1:role/x\"");
}

/* ------------------------------------------------------------ helpers */

/* Resolves credentials once with a fresh provider. */
static dx_err get_once(fake_env *fe, const dx_aws_opts *opt, dx_creds **c, dx_result *r) {
    dx_env env = as_env(fe);
    dx_creds_provider *p = NULL;
    dx_result_clear(r);
    assert_int_equal(dx_creds_provider_new(&env, opt, &p, r), DX_OK);
    dx_err e = dx_creds_provider_get(p, c, r);
    dx_creds_provider_free(p);
    if (e) {
        printf("     -> %s\n", r->message);
        assert_no_secret(r->message);
        assert_null(*c);
    }
    return e;
}

/* ------------------------------------------------------------ tests */

static void test_endpoint_parse(void **state) {
    (void)state;
    static const struct {
        const char *url;
        dx_err err;
        const char *scheme, *host, *host_header, *norm, *path;
        unsigned port;
    } rows[] = {
        {"https://dynamodb.us-east-1.amazonaws.com", DX_OK, "https", "dynamodb.us-east-1.amazonaws.com",
         "dynamodb.us-east-1.amazonaws.com", "https://dynamodb.us-east-1.amazonaws.com", "/", 443},
        {"http://127.0.0.1:8000", DX_OK, "http", "127.0.0.1", "127.0.0.1:8000", "http://127.0.0.1:8000", "/", 8000},
        {"HTTP://LocalHost:8000/", DX_OK, "http", "localhost", "localhost:8000", "http://localhost:8000", "/", 8000},
        {"http://dynamodb.us-east-1.amazonaws.com:80", DX_OK, "http", "dynamodb.us-east-1.amazonaws.com",
         "dynamodb.us-east-1.amazonaws.com", "http://dynamodb.us-east-1.amazonaws.com", "/", 80},
        {"https://h:443/base/", DX_OK, "https", "h", "h", "https://h/base/", "/base/", 443},
        {"http://[::1]:8000", DX_OK, "http", "::1", "[::1]:8000", "http://[::1]:8000", "/", 8000},
        {"https://[fd00:ec2::254]", DX_OK, "https", "fd00:ec2::254", "[fd00:ec2::254]", "https://[fd00:ec2::254]", "/", 443},
        {"", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"localhost:8000", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"ftp://h", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://h:0", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://h:65536", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://h:12a", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://h:", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://user:pw@h", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://h/?a=b", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://h#x", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://h x", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
        {"http://[::1", DX_ERR_CONFIG, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] endpoint '%s'\n", i, rows[i].url);
        dx_endpoint ep;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_endpoint_parse(rows[i].url, &ep, &r);
        assert_int_equal(e, rows[i].err);
        if (e) {
            assert_true(strlen(r.message) > 0);
            assert_null(strstr(r.message, "pw@"));
            continue;
        }
        assert_string_equal(ep.scheme, rows[i].scheme);
        assert_string_equal(ep.host, rows[i].host);
        assert_string_equal(ep.host_header, rows[i].host_header);
        assert_string_equal(ep.url, rows[i].norm);
        assert_string_equal(ep.path, rows[i].path);
        assert_int_equal(ep.port, rows[i].port);
    }
}

static void test_env_credentials(void **state) {
    (void)state;
    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "AWS_ACCESS_KEY_ID", "AKIDENV");
    fe_set(&fe, "AWS_SECRET_ACCESS_KEY", "envSECRET");
    fe_set(&fe, "AWS_SESSION_TOKEN", "envTOKEN");
    fe_set(&fe, "AWS_PROFILE", "dev"); /* AWS_PROFILE does not outrank env keys */
    dx_creds *c = NULL;
    dx_result r;
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDENV");
    assert_string_equal(c->secret_access_key, "envSECRET");
    assert_string_equal(c->session_token, "envTOKEN");
    assert_string_equal(c->source, "environment");
    assert_int_equal(c->expiration_ms, 0);
    dx_sigv4_creds v = dx_creds_sigv4(c);
    assert_string_equal(v.access_key_id, "AKIDENV");
    assert_string_equal(v.session_token, "envTOKEN");
    dx_creds_release(c);

    /* An explicit profile (like --profile) skips the environment. */
    dx_aws_opts opt = {0};
    opt.profile = "dev";
    assert_int_equal(get_once(&fe, &opt, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDDEV");
    dx_creds_release(c);

    /* No token: NULL, not "". */
    fe_set(&fe, "AWS_SESSION_TOKEN", "");
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_OK);
    assert_null(c->session_token);
    dx_creds_release(c);

    /* Partial: an error naming both variables, never the secret. */
    fe_set(&fe, "AWS_ACCESS_KEY_ID", "");
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    fe_set(&fe, "AWS_ACCESS_KEY_ID", "AKIDENV");
    fe_set(&fe, "AWS_SECRET_ACCESS_KEY", "");
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    assert_string_equal(r.field, "AWS_SECRET_ACCESS_KEY");
}

static void test_profile_credentials(void **state) {
    (void)state;
    static const struct {
        const char *aws_profile, *opt_profile;
        const char *akid, *secret, *token, *source;
    } rows[] = {
        {NULL, NULL, "AKIDDEFAULT", "defaultSECRETdefaultSECRETdefaultSECRET00", NULL, "shared credentials file"},
        {"dev", NULL, "AKIDDEV", "devSECRET/with+chars==", "devTOKEN", "shared credentials file"},
        {NULL, "dev", "AKIDDEV", "devSECRET/with+chars==", "devTOKEN", "shared credentials file"},
        {"spaced", NULL, "AKIDSPACED", "spacedSECRET", NULL, "shared credentials file"},
        {"dup", NULL, "AKIDDUP", "dupSECRETsecond", NULL, "shared credentials file"},
        {"cfgonly", NULL, "AKIDCFGONLY", "cfgonlySECRET", NULL, "config file"},
        {"other", "dev", "AKIDDEV", "devSECRET/with+chars==", "devTOKEN", "shared credentials file"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] AWS_PROFILE=%s opt.profile=%s\n", i, rows[i].aws_profile ? rows[i].aws_profile : "-",
               rows[i].opt_profile ? rows[i].opt_profile : "-");
        fake_env fe;
        fe_base(&fe);
        if (rows[i].aws_profile) fe_set(&fe, "AWS_PROFILE", rows[i].aws_profile);
        dx_aws_opts opt = {0};
        opt.profile = rows[i].opt_profile;
        dx_creds *c = NULL;
        dx_result r;
        assert_int_equal(get_once(&fe, &opt, &c, &r), DX_OK);
        assert_string_equal(c->access_key_id, rows[i].akid);
        assert_string_equal(c->secret_access_key, rows[i].secret);
        if (rows[i].token) assert_string_equal(c->session_token, rows[i].token);
        else assert_null(c->session_token);
        assert_string_equal(c->source, rows[i].source);
        dx_creds_release(c);
    }
}

static void test_profile_errors(void **state) {
    (void)state;
    static const struct {
        const char *profile;
        dx_err err;
        const char *want1, *want2;
    } rows[] = {
        {"partial", DX_ERR_CONFIG, "partial credentials: profile 'partial'", "has aws_secret_access_key but no aws_access_key_id"},
        {"role", DX_ERR_CONFIG, "uses role_arn (assume role), which dynox does not support", "profile 'role'"},
        {"nosuch", DX_ERR_CONFIG, "profile 'nosuch' not found", "(no such section)"},
        {"noregion", DX_ERR_CONFIG, "no credentials", "profile 'noregion'"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] profile %s\n", i, rows[i].profile);
        fake_env fe;
        fe_base(&fe);
        fe_set(&fe, "AWS_PROFILE", rows[i].profile);
        dx_creds *c = NULL;
        dx_result r;
        assert_int_equal(get_once(&fe, NULL, &c, &r), rows[i].err);
        assert_has(r.message, rows[i].want1);
        assert_has(r.message, rows[i].want2);
        if (i != 1) assert_has(r.message, g_home_creds);
    }
}

static void test_files_from_variables(void **state) {
    (void)state;
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/alt-config", g_home);
    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "AWS_PROFILE", "alt");
    fe_set(&fe, "AWS_SHARED_CREDENTIALS_FILE", "~/alt-credentials"); /* ~ is expanded */
    fe_set(&fe, "AWS_CONFIG_FILE", cfg);
    dx_creds *c = NULL;
    dx_result r;
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDALT");
    dx_creds_release(c);

    dx_env env = as_env(&fe);
    dx_aws_settings st;
    assert_int_equal(dx_aws_resolve(&env, NULL, &st, &r), DX_OK);
    assert_string_equal(st.profile, "alt");
    assert_string_equal(st.region, "eu-central-1");
    assert_has(st.region_from, "alt-config");

    /* Files that do not exist: named as such. */
    fe_set(&fe, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds");
    fe_set(&fe, "AWS_CONFIG_FILE", "/nonexistent/config");
    fe_set(&fe, "AWS_PROFILE", "");
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, "profile 'default' in /nonexistent/creds (no such file) and /nonexistent/config (no such file)");
}

static void test_region(void **state) {
    (void)state;
    static const struct {
        const char *opt, *aws_region, *default_region, *profile;
        dx_err err;
        const char *region, *from;
    } rows[] = {
        {"ca-central-1", "us-east-1", "us-east-2", NULL, DX_OK, "ca-central-1", "option"},
        {NULL, "us-east-1", "us-east-2", NULL, DX_OK, "us-east-1", "AWS_REGION"},
        {NULL, NULL, "us-east-2", NULL, DX_OK, "us-east-2", "AWS_DEFAULT_REGION"},
        {NULL, NULL, NULL, NULL, DX_OK, "us-west-2", "profile 'default' in "},
        {NULL, NULL, NULL, "dev", DX_OK, "eu-west-1", "profile 'dev' in "},
        {NULL, NULL, NULL, "multispace", DX_OK, "sa-east-1", "profile 'multispace'"},
        {NULL, NULL, NULL, "noregion", DX_ERR_CONFIG, "no region: looked in AWS_REGION, AWS_DEFAULT_REGION, profile 'noregion' in ", NULL},
        {NULL, NULL, NULL, "spaced", DX_ERR_CONFIG, "(no such profile)", NULL},
        {NULL, NULL, NULL, "badregion", DX_ERR_CONFIG, "is not a region name", NULL},
        {NULL, "us east 1", NULL, NULL, DX_ERR_CONFIG, "from AWS_REGION is not a region name", NULL},
        {NULL, NULL, NULL, "nosuch", DX_ERR_CONFIG, "profile 'nosuch' not found", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] region opt=%s AWS_REGION=%s AWS_DEFAULT_REGION=%s profile=%s\n", i,
               rows[i].opt ? rows[i].opt : "-", rows[i].aws_region ? rows[i].aws_region : "-",
               rows[i].default_region ? rows[i].default_region : "-", rows[i].profile ? rows[i].profile : "-");
        fake_env fe;
        fe_base(&fe);
        if (rows[i].aws_region) fe_set(&fe, "AWS_REGION", rows[i].aws_region);
        if (rows[i].default_region) fe_set(&fe, "AWS_DEFAULT_REGION", rows[i].default_region);
        if (rows[i].profile) fe_set(&fe, "AWS_PROFILE", rows[i].profile);
        dx_aws_opts opt = {0};
        opt.region = rows[i].opt;
        dx_env env = as_env(&fe);
        dx_aws_settings st;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_aws_resolve(&env, &opt, &st, &r);
        assert_int_equal(e, rows[i].err);
        if (e) {
            printf("     -> %s\n", r.message);
            assert_has(r.message, rows[i].region);
            assert_no_secret(r.message);
            continue;
        }
        assert_string_equal(st.region, rows[i].region);
        assert_has(st.region_from, rows[i].from);
    }
    /* No HOME and nothing set: says so. */
    fake_env fe;
    memset(&fe, 0, sizeof fe);
    dx_env env = as_env(&fe);
    dx_aws_settings st;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_aws_resolve(&env, NULL, &st, &r), DX_ERR_CONFIG);
    assert_has(r.message, "~/.aws/config (HOME not set)");
    /* A NULL env is an empty one. */
    assert_int_equal(dx_aws_resolve(NULL, NULL, &st, &r), DX_ERR_CONFIG);
}

static void test_endpoint(void **state) {
    (void)state;
    static const struct {
        const char *opt, *ep_ddb, *ep, *ignore, *profile, *region;
        dx_err err;
        const char *url, *from;
    } rows[] = {
        {"http://o:1", "http://a:2", "http://b:3", NULL, "dev", NULL, DX_OK, "http://o:1", "option"},
        {NULL, "http://a:2", "http://b:3", NULL, "dev", NULL, DX_OK, "http://a:2", "AWS_ENDPOINT_URL_DYNAMODB"},
        {NULL, NULL, "http://b:3", NULL, "dev", NULL, DX_OK, "http://b:3", "AWS_ENDPOINT_URL"},
        {NULL, NULL, NULL, NULL, "svc", NULL, DX_OK, "http://127.0.0.1:4567", "services 'local-ddb' (dynamodb)"},
        {NULL, NULL, NULL, NULL, "dev", NULL, DX_OK, "http://localhost:8000", "profile 'dev'"},
        {NULL, NULL, NULL, NULL, NULL, NULL, DX_OK, "https://dynamodb.us-west-2.amazonaws.com", "default for the region"},
        {NULL, NULL, NULL, NULL, NULL, "eu-north-1", DX_OK, "https://dynamodb.eu-north-1.amazonaws.com", "default"},
        {NULL, NULL, NULL, NULL, "cn", NULL, DX_OK, "https://dynamodb.cn-north-1.amazonaws.com.cn", "default"},
        {NULL, "http://a:2", "http://b:3", "true", "dev", NULL, DX_OK, "https://dynamodb.eu-west-1.amazonaws.com", "default"},
        {"http://o:1", "http://a:2", NULL, "true", "dev", NULL, DX_OK, "http://o:1", "option"},
        {NULL, NULL, NULL, NULL, "ignoring", NULL, DX_OK, "https://dynamodb.us-east-1.amazonaws.com", "default"},
        {NULL, "localhost:8000", NULL, NULL, NULL, NULL, DX_ERR_CONFIG, "(from AWS_ENDPOINT_URL_DYNAMODB)", NULL},
        {NULL, NULL, NULL, NULL, "badurl", NULL, DX_ERR_CONFIG, "must start with http:// or https://", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] endpoint opt=%s ddb=%s global=%s ignore=%s profile=%s\n", i, rows[i].opt ? rows[i].opt : "-",
               rows[i].ep_ddb ? rows[i].ep_ddb : "-", rows[i].ep ? rows[i].ep : "-",
               rows[i].ignore ? rows[i].ignore : "-", rows[i].profile ? rows[i].profile : "-");
        fake_env fe;
        fe_base(&fe);
        if (rows[i].ep_ddb) fe_set(&fe, "AWS_ENDPOINT_URL_DYNAMODB", rows[i].ep_ddb);
        if (rows[i].ep) fe_set(&fe, "AWS_ENDPOINT_URL", rows[i].ep);
        if (rows[i].ignore) fe_set(&fe, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", rows[i].ignore);
        if (rows[i].profile) fe_set(&fe, "AWS_PROFILE", rows[i].profile);
        if (rows[i].region) fe_set(&fe, "AWS_REGION", rows[i].region);
        dx_aws_opts opt = {0};
        opt.endpoint_url = rows[i].opt;
        dx_env env = as_env(&fe);
        dx_aws_settings st;
        dx_result r;
        dx_result_clear(&r);
        dx_err e = dx_aws_resolve(&env, &opt, &st, &r);
        assert_int_equal(e, rows[i].err);
        if (e) {
            printf("     -> %s\n", r.message);
            assert_has(r.message, rows[i].url);
            continue;
        }
        assert_string_equal(st.endpoint.url, rows[i].url);
        assert_has(st.endpoint_from, rows[i].from);
    }
}

static void test_no_credentials_message(void **state) {
    (void)state;
    fake_env fe;
    memset(&fe, 0, sizeof fe);
    fe_set(&fe, "HOME", "/nonexistent-home");
    fe_set(&fe, "AWS_EC2_METADATA_DISABLED", "TRUE");
    dx_creds *c = NULL;
    dx_result r;
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_string_equal(r.message,
                        "no credentials: looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set), "
                        "profile 'default' in /nonexistent-home/.aws/credentials (no such file) and "
                        "/nonexistent-home/.aws/config (no such file), container credentials (not configured), "
                        "EC2 instance metadata (disabled); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                        "or configure a profile (aws configure)");
    assert_string_equal(r.field, "credentials");

    /* Explicit profile in a file without keys; HOME unset entirely. */
    fe_base(&fe);
    dx_aws_opts opt = {0};
    opt.profile = "noregion";
    assert_int_equal(get_once(&fe, &opt, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, "(skipped: profile 'noregion' chosen explicitly)");
    assert_has(r.message, "(no such section)");
    assert_has(r.message, "(no keys)");
    memset(&fe, 0, sizeof fe);
    fe_set(&fe, "AWS_EC2_METADATA_DISABLED", "true");
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, "~/.aws/credentials (HOME not set)");
}

static void test_container_relative(void **state) {
    (void)state;
    srv *s = srv_start();
    char body[1024];
    creds_json(body, sizeof body, "AKIDCTR", "ctrSECRET", "ctrTOKEN", "2023-11-14T23:13:20Z", false);
    srv_route(s, "GET", "/v2/credentials/abc-123", 200, body, "Authorization: Bearer-xyz", 0);

    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "HOME", "/nonexistent-home");
    fe_set(&fe, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc-123");
    fe_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-xyz");
    dx_aws_opts opt = {0};
    opt.container_base_url = srv_url(s);
    opt.clock_ms = fake_clock;
    dx_creds *c = NULL;
    dx_result r;
    assert_int_equal(get_once(&fe, &opt, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDCTR");
    assert_string_equal(c->secret_access_key, "ctrSECRET");
    assert_string_equal(c->session_token, "ctrTOKEN");
    assert_string_equal(c->source, "container");
    assert_int_equal(c->expiration_ms, 1700000000000LL + 3600000LL);
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 1);
    assert_true(has_header_line(s->log[0], "Authorization: Bearer-xyz"));
    assert_int_equal(strncmp(s->log[0], "GET /v2/credentials/abc-123 HTTP/1.1", 36), 0);

    /* Wrong token: 401 -> DX_ERR_AUTH, naming the URL and the variable, never the token. */
    fe_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-wrong");
    assert_int_equal(get_once(&fe, &opt, &c, &r), DX_ERR_AUTH);
    assert_has(r.message, "/v2/credentials/abc-123");
    assert_has(r.message, "HTTP 401");
    srv_stop(s);
}

static void test_container_full_uri_token_file(void **state) {
    (void)state;
    srv *s = srv_start();
    char body[1024];
    creds_json(body, sizeof body, "AKIDCTR2", "ctrSECRET2", "ctrTOKEN2", "2023-11-14T23:13:20.123Z", false);
    srv_route(s, "GET", "/get-credentials?a=1", 200, body, "Authorization: FILETOKEN-42", 0);

    char tokfile[] = "/tmp/dynox-test-token-XXXXXX";
    int fd = mkstemp(tokfile);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "FILETOKEN-42\n", 13), 13);
    close(fd);

    char url[256];
    snprintf(url, sizeof url, "%s/get-credentials?a=1", srv_url(s));
    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "HOME", "/nonexistent-home");
    fe_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
    fe_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-loses-to-file");
    fe_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile);
    dx_creds *c = NULL;
    dx_result r;
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDCTR2");
    assert_int_equal(c->expiration_ms, 1700000000000LL + 3600000LL + 123);
    dx_creds_release(c);
    assert_true(has_header_line(s->log[0], "Authorization: FILETOKEN-42"));

    /* The file is read at each resolution: a rotated token is used. */
    fd = open(tokfile, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "FILETOKEN-43", 12), 12);
    close(fd);
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_AUTH);
    assert_true(has_header_line(s->log[1], "Authorization: FILETOKEN-43"));

    /* A missing token file is a configuration error naming it. */
    unlink(tokfile);
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, tokfile);
    assert_has(r.message, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    srv_stop(s);
}

static void test_container_errors(void **state) {
    (void)state;
    srv *s = srv_start();
    srv_route(s, "GET", "/500", 500, "boom", NULL, 0);
    srv_route(s, "GET", "/notjson", 200, "AccessKeyId=x", NULL, 0);
    srv_route(s, "GET", "/nokeys", 200, "{\"Token\":\"ctrTOKEN\"}", NULL, 0);
    srv_route(s, "GET", "/badexp", 200,
              "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"ctrSECRET\",\"Expiration\":\"tomorrow\"}", NULL, 0);
    srv_route(s, "GET", "/slow", 200, "{}", NULL, 1500);
    static const struct {
        const char *path; /* NULL: use full */
        const char *full;
        dx_err err;
        const char *want;
    } rows[] = {
        {"/500", NULL, DX_ERR_PROTOCOL, "answered HTTP 500"},
        {"/notjson", NULL, DX_ERR_PROTOCOL, "is not a JSON object"},
        {"/nokeys", NULL, DX_ERR_PROTOCOL, "lacks AccessKeyId or SecretAccessKey"},
        {"/badexp", NULL, DX_ERR_PROTOCOL, "Expiration 'tomorrow'"},
        {"/slow", NULL, DX_ERR_TIMEOUT, "failed"},
        {NULL, "http://example.com/creds", DX_ERR_CONFIG, "uses plain http to example.com"},
        {NULL, "ftp://127.0.0.1/creds", DX_ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf("[%zu] container error %s\n", i, rows[i].path ? rows[i].path : rows[i].full);
        char url[256];
        if (rows[i].path) snprintf(url, sizeof url, "%s%s", srv_url(s), rows[i].path);
        else snprintf(url, sizeof url, "%s", rows[i].full);
        fake_env fe;
        fe_base(&fe);
        fe_set(&fe, "HOME", "/nonexistent-home");
        fe_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
        fe_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer-secret-token");
        dx_aws_opts opt = {0};
        opt.metadata_timeout_ms = 300;
        dx_creds *c = NULL;
        dx_result r;
        uint64_t t0 = dx_now_ms();
        assert_int_equal(get_once(&fe, &opt, &c, &r), rows[i].err);
        assert_true(dx_now_ms() - t0 < 1400); /* the timeout holds */
        assert_has(r.message, rows[i].want);
        assert_has(r.message, "container credentials");
    }
    srv_stop(s);
}

static void imds_routes(srv *s, const char *exp) {
    char body[1024];
    creds_json(body, sizeof body, "AKIDIMDS", "imdsSECRET", "imdsTOKEN", exp, true);
    srv_route(s, "PUT", "/latest/api/token", 200, "IMDSTOKEN-1\n", "X-aws-ec2-metadata-token-ttl-seconds: 21600", 0);
    srv_route(s, "GET", "/latest/meta-data/iam/security-credentials/", 200, "my-role\n",
              "X-aws-ec2-metadata-token: IMDSTOKEN-1", 0);
    srv_route(s, "GET", "/latest/meta-data/iam/security-credentials/my-role", 200, body,
              "X-aws-ec2-metadata-token: IMDSTOKEN-1", 0);
}

static void test_imds_v2(void **state) {
    (void)state;
    srv *s = srv_start();
    imds_routes(s, "2023-11-15T04:13:20Z");
    char ep[160];
    snprintf(ep, sizeof ep, "%s/", srv_url(s)); /* a trailing '/' is tolerated */
    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "HOME", "/nonexistent-home");
    fe_set(&fe, "AWS_EC2_METADATA_DISABLED", "false");
    fe_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", ep);
    dx_creds *c = NULL;
    dx_result r;
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDIMDS");
    assert_string_equal(c->secret_access_key, "imdsSECRET");
    assert_string_equal(c->session_token, "imdsTOKEN");
    assert_string_equal(c->source, "instance metadata");
    assert_int_equal(c->expiration_ms, 1700000000000LL + 6 * 3600000LL);
    dx_creds_release(c);

    /* Exactly: token PUT with the TTL header, then two GETs carrying the token. */
    assert_int_equal(srv_nlog(s), 3);
    assert_int_equal(strncmp(s->log[0], "PUT /latest/api/token ", 22), 0);
    assert_true(has_header_line(s->log[0], "X-aws-ec2-metadata-token-ttl-seconds: 21600"));
    assert_int_equal(strncmp(s->log[1], "GET /latest/meta-data/iam/security-credentials/ ", 48), 0);
    assert_true(has_header_line(s->log[1], "X-aws-ec2-metadata-token: IMDSTOKEN-1"));
    assert_int_equal(strncmp(s->log[2], "GET /latest/meta-data/iam/security-credentials/my-role ", 55), 0);
    assert_true(has_header_line(s->log[2], "X-aws-ec2-metadata-token: IMDSTOKEN-1"));

    /* No role attached: part of the "no credentials" message. */
    srv_route(s, "GET", "/latest/meta-data/iam/security-credentials/", 404, "", NULL, 0);
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, "EC2 instance metadata (no IAM role attached to the instance)");

    /* An error Code from IMDS. */
    srv_route(s, "GET", "/latest/meta-data/iam/security-credentials/", 200, "my-role", NULL, 0);
    srv_route(s, "GET", "/latest/meta-data/iam/security-credentials/my-role", 200,
              "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"nope\"}", NULL, 0);
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_AUTH);
    assert_has(r.message, "AssumeRoleUnauthorizedAccess");
    srv_stop(s);
}

static void test_imds_v1_fallback_and_unreachable(void **state) {
    (void)state;
    srv *s = srv_start();
    char body[1024];
    creds_json(body, sizeof body, "AKIDV1", "imdsSECRET", "imdsTOKEN", "2023-11-15T04:13:20Z", true);
    srv_route(s, "PUT", "/latest/api/token", 405, "", NULL, 0);
    srv_route(s, "GET", "/latest/meta-data/iam/security-credentials/", 200, "r1", NULL, 0);
    srv_route(s, "GET", "/latest/meta-data/iam/security-credentials/r1", 200, body, NULL, 0);
    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "HOME", "/nonexistent-home");
    fe_set(&fe, "AWS_EC2_METADATA_DISABLED", "");
    fe_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", srv_url(s));
    dx_creds *c = NULL;
    dx_result r;
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDV1");
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 3);
    assert_false(strstr(s->log[1], "X-aws-ec2-metadata-token:") != NULL);

    /* IMDSv1 disabled: no fallback. */
    fe_set(&fe, "AWS_EC2_METADATA_V1_DISABLED", "true");
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_has(r.message, "answered HTTP 405; IMDSv1 disabled");
    srv_stop(s);

    /* Nothing listening: fast, and said plainly. */
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%u", (unsigned)closed_port());
    fe_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", ep);
    uint64_t t0 = dx_now_ms();
    assert_int_equal(get_once(&fe, NULL, &c, &r), DX_ERR_CONFIG);
    assert_true(dx_now_ms() - t0 < 1500);
    assert_has(r.message, "EC2 instance metadata (not reachable at http://127.0.0.1:");
}

/* Expiry-driven refresh, early-refresh failure, remembered failure, invalidate. */
static void test_refresh(void **state) {
    (void)state;
    const uint64_t T0 = 1700000000000ull;
    atomic_store(&g_now, T0);
    srv *s = srv_start();
    char body[1024];
    creds_json(body, sizeof body, "AKIDA", "ctrSECRETa", "ctrTOKENa", "2023-11-14T23:13:20Z", false); /* T0+1h */
    srv_route(s, "GET", "/c", 200, body, NULL, 0);
    char url[160];
    snprintf(url, sizeof url, "%s/c", srv_url(s));
    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "HOME", "/nonexistent-home");
    fe_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
    dx_env env = as_env(&fe);
    dx_aws_opts opt = {0};
    opt.clock_ms = fake_clock; /* margin 5 min, retry after 10 s: the defaults */
    dx_creds_provider *p = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_creds_provider_new(&env, &opt, &p, &r), DX_OK);

    dx_creds *c = NULL;
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDA");
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 1);

    creds_json(body, sizeof body, "AKIDB", "ctrSECRETb", "ctrTOKENb", "2023-11-15T00:13:20Z", false); /* T0+2h */
    srv_route(s, "GET", "/c", 200, body, NULL, 0);

    atomic_store(&g_now, T0 + 30 * 60000); /* well before expiry: cached, no request */
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDA");
    assert_int_equal(srv_nlog(s), 1);
    dx_creds *held = c; /* a snapshot stays valid after the provider moves on */

    atomic_store(&g_now, T0 + 56 * 60000); /* inside the 5-minute margin: refreshed */
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDB");
    assert_int_equal(srv_nlog(s), 2);
    dx_creds_release(c);
    assert_string_equal(held->access_key_id, "AKIDA");
    assert_string_equal(held->secret_access_key, "ctrSECRETa");
    dx_creds_release(held);

    /* Early refresh fails: the current credentials are kept, and the retry waits 10 s. */
    srv_route(s, "GET", "/c", 503, "down", NULL, 0);
    atomic_store(&g_now, T0 + 116 * 60000); /* B expires at T0+120 min */
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDB");
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 3);
    atomic_store(&g_now, T0 + 116 * 60000 + 5000);
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 3);
    atomic_store(&g_now, T0 + 116 * 60000 + 11000);
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 4);

    /* Expired and the source is down: an error, remembered for 10 s. */
    atomic_store(&g_now, T0 + 121 * 60000);
    dx_result_clear(&r);
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_ERR_PROTOCOL);
    assert_null(c);
    assert_has(r.message, "answered HTTP 503");
    assert_int_equal(srv_nlog(s), 5);
    dx_result_clear(&r);
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_ERR_PROTOCOL);
    assert_has(r.message, "answered HTTP 503");
    assert_int_equal(srv_nlog(s), 5);

    /* The source is back; invalidate forces a new attempt at once. */
    creds_json(body, sizeof body, "AKIDC", "ctrSECRETc", "ctrTOKENc", "2023-11-15T02:13:20Z", false);
    srv_route(s, "GET", "/c", 200, body, NULL, 0);
    dx_creds_provider_invalidate(p);
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    assert_string_equal(c->access_key_id, "AKIDC");
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 6);

    /* Invalidate with valid credentials also refetches (e.g. after ExpiredTokenException). */
    dx_creds_provider_invalidate(p);
    assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
    dx_creds_release(c);
    assert_int_equal(srv_nlog(s), 7);

    dx_creds_provider_free(p);
    srv_stop(s);
    atomic_store(&g_now, T0);
}

typedef struct getter {
    dx_creds_provider *p;
    dx_err err;
    char akid[32];
} getter;

static void *getter_main(void *arg) {
    getter *g = arg;
    dx_creds *c = NULL;
    dx_result r;
    dx_result_clear(&r);
    g->err = dx_creds_provider_get(g->p, &c, &r);
    if (c) {
        snprintf(g->akid, sizeof g->akid, "%s", c->access_key_id);
        dx_creds_release(c);
    }
    return NULL;
}

/* Many threads hit a provider with nothing yet, against a slow source: one fetch, all served. */
static void test_refresh_threads(void **state) {
    (void)state;
    atomic_store(&g_now, 1700000000000ull);
    srv *s = srv_start();
    char body[1024];
    creds_json(body, sizeof body, "AKIDT", "ctrSECRETt", "ctrTOKENt", "2023-11-14T23:13:20Z", false);
    srv_route(s, "GET", "/c", 200, body, NULL, 200);
    char url[160];
    snprintf(url, sizeof url, "%s/c", srv_url(s));
    fake_env fe;
    fe_base(&fe);
    fe_set(&fe, "HOME", "/nonexistent-home");
    fe_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
    dx_env env = as_env(&fe);
    dx_aws_opts opt = {0};
    opt.clock_ms = fake_clock;
    dx_creds_provider *p = NULL;
    dx_result r;
    assert_int_equal(dx_creds_provider_new(&env, &opt, &p, &r), DX_OK);
    enum { N = 8 };
    pthread_t th[N];
    getter g[N];
    for (int i = 0; i < N; i++) {
        g[i] = (getter){p, DX_ERR_UNKNOWN, ""};
        assert_int_equal(pthread_create(&th[i], NULL, getter_main, &g[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        printf("[%d] thread got %s (%s)\n", i, g[i].akid, dx_err_name(g[i].err));
        assert_int_equal(g[i].err, DX_OK);
        assert_string_equal(g[i].akid, "AKIDT");
    }
    assert_int_equal(srv_nlog(s), 1);

    /* Refresh time reached while credentials are still valid: the others do not wait. */
    creds_json(body, sizeof body, "AKIDU", "ctrSECRETu", "ctrTOKENu", "2023-11-15T00:13:20Z", false);
    srv_route(s, "GET", "/c", 200, body, NULL, 300);
    atomic_store(&g_now, 1700000000000ull + 57 * 60000);
    for (int i = 0; i < N; i++) {
        g[i] = (getter){p, DX_ERR_UNKNOWN, ""};
        assert_int_equal(pthread_create(&th[i], NULL, getter_main, &g[i]), 0);
    }
    int old = 0, fresh = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(g[i].err, DX_OK);
        old += strcmp(g[i].akid, "AKIDT") == 0;
        fresh += strcmp(g[i].akid, "AKIDU") == 0;
    }
    printf("old %d fresh %d\n", old, fresh);
    assert_int_equal(old + fresh, N);
    assert_true(fresh >= 1);
    assert_int_equal(srv_nlog(s), 2);
    dx_creds_provider_free(p);
    srv_stop(s);
    atomic_store(&g_now, 1700000000000ull);
}

static void test_creds_objects(void **state) {
    (void)state;
    assert_null(dx_creds_new(NULL, "s", NULL, 0));
    assert_null(dx_creds_new("a", "", NULL, 0));
    dx_creds *c = dx_creds_new("AKID", "sec", "", 42);
    assert_non_null(c);
    assert_null(c->session_token);
    assert_int_equal(c->expiration_ms, 42);
    assert_string_equal(c->source, "static");
    assert_ptr_equal(dx_creds_ref(c), c);
    dx_creds_release(c);
    assert_string_equal(c->secret_access_key, "sec"); /* one reference left */
    dx_creds_release(c);
    dx_creds_release(NULL);
    dx_sigv4_creds v = dx_creds_sigv4(NULL);
    assert_null(v.access_key_id);

    dx_creds_provider *p = NULL;
    dx_result r;
    dx_result_clear(&r);
    assert_int_equal(dx_creds_provider_new_static("", "x", NULL, &p, &r), DX_ERR_INVALID_ARG);
    assert_null(p);
    assert_int_equal(dx_creds_provider_new_static("AKIDS", "staticSECRET", "tok", &p, &r), DX_OK);
    for (int i = 0; i < 3; i++) {
        dx_creds_provider_invalidate(p); /* no effect on static credentials */
        assert_int_equal(dx_creds_provider_get(p, &c, &r), DX_OK);
        assert_string_equal(c->access_key_id, "AKIDS");
        assert_string_equal(c->session_token, "tok");
        dx_creds_release(c);
    }
    dx_creds_provider_free(p);
    dx_creds_provider_free(NULL);

    /* A NULL environment is empty: nothing found, nothing read from the process. */
    assert_int_equal(dx_creds_provider_new(NULL, NULL, &p, &r), DX_OK);
    dx_creds_provider_free(p);

    /* dx_env_process reads the real environment (the only function that does). */
    dx_env pe = dx_env_process();
    setenv("DYNOX_TEST_PROBE", "v1", 1);
    assert_string_equal(pe.get(pe.ud, "DYNOX_TEST_PROBE"), "v1");
    unsetenv("DYNOX_TEST_PROBE");
    assert_null(pe.get(pe.ud, "DYNOX_TEST_PROBE"));
}

static int setup_paths(void) {
    const char *td = getenv("DYNOX_TESTDATA");
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s/creds/home", td && *td ? td : "tests/data");
    if (!realpath(rel, g_home)) {
        fprintf(stderr, "test_creds: fixture directory %s not found; run from the repository root "
                        "or set DYNOX_TESTDATA to the tests/data directory\n", rel);
        return -1;
    }
    snprintf(g_home_creds, sizeof g_home_creds, "%.*s/.aws/credentials", (int)(sizeof g_home_creds - 20), g_home);
    snprintf(g_home_config, sizeof g_home_config, "%.*s/.aws/config", (int)(sizeof g_home_config - 20), g_home);
    return 0;
}

int main(void) {
    if (setup_paths() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_parse),
        cmocka_unit_test(test_env_credentials),
        cmocka_unit_test(test_profile_credentials),
        cmocka_unit_test(test_profile_errors),
        cmocka_unit_test(test_files_from_variables),
        cmocka_unit_test(test_region),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_no_credentials_message),
        cmocka_unit_test(test_container_relative),
        cmocka_unit_test(test_container_full_uri_token_file),
        cmocka_unit_test(test_container_errors),
        cmocka_unit_test(test_imds_v2),
        cmocka_unit_test(test_imds_v1_fallback_and_unreachable),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_refresh_threads),
        cmocka_unit_test(test_creds_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
