/*
 * creds.c - AWS credentials, region and endpoint, resolved as the AWS CLI
 * does: environment, shared files, container credentials, EC2 instance
 * metadata (IMDSv2). The order and every variable are in creds.h.
 *
 * DESIGN
 * Environment. The only way in is the dx_env the caller passes. An env_snap
 * copies every variable this file knows (the X-list below) at the start of
 * dx_aws_resolve() and in dx_creds_provider_new(); nothing reads the
 * environment afterwards, so a provider refreshing from a worker thread
 * never touches getenv().
 *
 * Shared files. A file is read whole with open()/read() into one buffer
 * sized from fstat() (no stdio buffers, no realloc), parsed in place into
 * (section, key, sub-key, value) records, and the buffer is wiped when the
 * parse is dropped: it held secret keys. The syntax is what botocore's
 * ConfigParser accepts plus the SDK profile rules: "[section]", "key = value"
 * (or ':'), comments on lines starting with '#' or ';' and, in values, after
 * whitespace; keys are case-insensitive; indented "key = value" lines under
 * a key with an empty value are its sub-keys (the services form:
 * "dynamodb =" then "  endpoint_url = ..."); a later value wins.
 *
 * Network sources. Container credentials and IMDS are fetched with a libcurl
 * easy handle per request: proxies off (the environment's http_proxy must
 * never see a metadata request), no redirects, http/https only, connect and
 * total timeouts of opt.metadata_timeout_ms. The body goes into a fixed
 * 64 KiB buffer (never reallocated, wiped after use); request header
 * strings holding tokens are wiped in the curl_slist before it is freed.
 * JSON is parsed with cJSON and every string in the tree is wiped before
 * cJSON_Delete.
 *
 * Provider. One mutex and one condition variable guard the current snapshot.
 * get() returns the snapshot while it is before its refresh time (expiry
 * minus refresh_margin_ms). Past it, one thread resolves the chain again with
 * the lock released; the others keep the current snapshot while it has not
 * expired, and only wait on the condition variable when they have nothing
 * valid. A failed early refresh keeps the old snapshot and is retried after
 * retry_after_ms; a failed first resolution is remembered for as long, so
 * a thousand workers do not each wait a second on IMDS.
 *
 * Must never: print; read the environment except through a dx_env; put a
 * secret key, session token or container/IMDS token in a message; free
 * memory that held one without wiping it; follow a redirect or use a proxy
 * for metadata requests; block longer than the configured timeouts.
 */
#include "dynox/creds.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 1000u
#define DEFAULT_ATTEMPTS 1u
#define DEFAULT_MARGIN_MS (5u * 60u * 1000u)
#define DEFAULT_RETRY_AFTER_MS 10000u
#define MAX_FILE_BYTES (4u << 20)
#define MAX_BODY_BYTES 65536u
#define CONTAINER_BASE "http://169.254.170.2"
#define IMDS_BASE "http://169.254.169.254"
#define IMDS_BASE_V6 "http://[fd00:ec2::254]"
#define IMDS_TOKEN_TTL "21600"

/* ------------------------------------------------------------ environment */

#define ENV_VARS(X)                                                     \
    X(E_AKID, "AWS_ACCESS_KEY_ID")                                      \
    X(E_SECRET, "AWS_SECRET_ACCESS_KEY")                                \
    X(E_TOKEN, "AWS_SESSION_TOKEN")                                     \
    X(E_PROFILE, "AWS_PROFILE")                                         \
    X(E_CREDS_FILE, "AWS_SHARED_CREDENTIALS_FILE")                      \
    X(E_CONFIG_FILE, "AWS_CONFIG_FILE")                                 \
    X(E_HOME, "HOME")                                                   \
    X(E_REGION, "AWS_REGION")                                           \
    X(E_DEFAULT_REGION, "AWS_DEFAULT_REGION")                           \
    X(E_EP_DDB, "AWS_ENDPOINT_URL_DYNAMODB")                            \
    X(E_EP, "AWS_ENDPOINT_URL")                                         \
    X(E_IGNORE_EP, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")               \
    X(E_REL_URI, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")              \
    X(E_FULL_URI, "AWS_CONTAINER_CREDENTIALS_FULL_URI")                 \
    X(E_CTOKEN, "AWS_CONTAINER_AUTHORIZATION_TOKEN")                    \
    X(E_CTOKEN_FILE, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")          \
    X(E_IMDS_DISABLED, "AWS_EC2_METADATA_DISABLED")                     \
    X(E_IMDS_EP, "AWS_EC2_METADATA_SERVICE_ENDPOINT")                   \
    X(E_IMDS_MODE, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")            \
    X(E_IMDS_V1_DISABLED, "AWS_EC2_METADATA_V1_DISABLED")

enum {
#define ENV_ENUM_(id, name) id,
    ENV_VARS(ENV_ENUM_)
#undef ENV_ENUM_
        E__COUNT
};

static const char *const ENV_NAMES[E__COUNT] = {
#define ENV_NAME_(id, name) name,
    ENV_VARS(ENV_NAME_)
#undef ENV_NAME_
};

/* Copies of the variables; NULL when unset or empty. */
typedef struct env_snap {
    char *v[E__COUNT];
} env_snap;

static void env_snap_free(env_snap *s) {
    for (int i = 0; i < E__COUNT; i++) {
        if (s->v[i]) {
            dx_memwipe(s->v[i], strlen(s->v[i]));
            free(s->v[i]);
            s->v[i] = NULL;
        }
    }
}

static bool env_snap_take(env_snap *s, const dx_env *env) {
    memset(s, 0, sizeof *s);
    if (!env || !env->get) return true;
    for (int i = 0; i < E__COUNT; i++) {
        const char *val = env->get(env->ud, ENV_NAMES[i]);
        if (!val || !*val) continue;
        if (!(s->v[i] = strdup(val))) {
            env_snap_free(s);
            return false;
        }
    }
    return true;
}

static bool env_true(const env_snap *s, int id) {
    return s->v[id] && strcasecmp(s->v[id], "true") == 0;
}

static const char *process_getenv(void *ud, const char *name) {
    (void)ud;
    return getenv(name);
}

dx_env dx_env_process(void) {
    dx_env e = {process_getenv, NULL};
    return e;
}

/* ------------------------------------------------------------ small helpers */

static bool is_sp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* Appends printf text to a fixed message buffer, truncating. */
typedef struct msg {
    char s[512];
    size_t n;
} msg;

static void msg_add(msg *m, const char *fmt, ...) DX_PRINTF(2, 3);
static void msg_add(msg *m, const char *fmt, ...) {
    if (m->n >= sizeof m->s - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(m->s + m->n, sizeof m->s - m->n, fmt, ap);
    va_end(ap);
    if (k > 0) m->n += (size_t)k;
    if (m->n > sizeof m->s - 1) m->n = sizeof m->s - 1;
}

/* snprintf that may truncate on purpose (descriptions); returns false when it did. */
static bool fmt(char *dst, size_t n, const char *f, ...) DX_PRINTF(3, 4);
static bool fmt(char *dst, size_t n, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int k = vsnprintf(dst, n, f, ap);
    va_end(ap);
    return k >= 0 && (size_t)k < n;
}

static void free_secret(char *s) {
    if (!s) return;
    dx_memwipe(s, strlen(s));
    free(s);
}

/* A region name: lower-case letters, digits, '-'; 1..63 chars. */
static bool region_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-')) return false;
    return true;
}

/* ------------------------------------------------------------ files */

typedef enum file_state { F_UNKNOWN = 0, F_MISSING, F_LOADED, F_NOPATH } file_state;

typedef struct ini_prop {
    const char *sect, *key, *sub, *val;
} ini_prop;

typedef struct ini {
    char path[1024];
    file_state state;
    char *text;
    size_t size;
    ini_prop *props;
    size_t n, cap;
    const char **sects;
    size_t nsects, capsects;
} ini;

static void ini_free(ini *f) {
    if (f->text) {
        dx_memwipe(f->text, f->size + 1);
        free(f->text);
    }
    free(f->props);
    free(f->sects);
    memset(f, 0, sizeof *f);
}

static bool ini_push_prop(ini *f, const char *sect, const char *key, const char *sub, const char *val) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        ini_prop *p = realloc(f->props, cap * sizeof *p); /* pointers only, no secrets */
        if (!p) return false;
        f->props = p;
        f->cap = cap;
    }
    f->props[f->n++] = (ini_prop){sect, key, sub, val};
    return true;
}

static bool ini_push_sect(ini *f, const char *sect) {
    if (f->nsects == f->capsects) {
        size_t cap = f->capsects ? f->capsects * 2 : 8;
        const char **p = realloc(f->sects, cap * sizeof *p);
        if (!p) return false;
        f->sects = p;
        f->capsects = cap;
    }
    f->sects[f->nsects++] = sect;
    return true;
}

/* Trims s..e in place; returns the start, writes a NUL after the last kept char. */
static char *trim_in_place(char *s, char *e) {
    while (s < e && is_sp(*s)) s++;
    while (e > s && is_sp(e[-1])) e--;
    *e = 0;
    return s;
}

/* Cuts a value at an inline comment: '#' or ';' after whitespace. */
static void cut_inline_comment(char *v) {
    for (char *p = v; *p; p++) {
        if ((*p == '#' || *p == ';') && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
            *p = 0;
            trim_in_place(v, p);
            return;
        }
    }
}

static bool ini_parse(ini *f) {
    char *p = f->text, *end = f->text + f->size;
    const char *sect = NULL;
    const char *parent = NULL; /* key whose value is empty: indented lines are its sub-keys */
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *line = p;
        p = nl ? nl + 1 : end;
        bool indented = line < le && (*line == ' ' || *line == '\t');
        char *s = trim_in_place(line, le);
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[' && !indented) {
            char *close = strchr(s, ']');
            if (!close) { /* not a section header: configparser rejects it; skip */
                sect = NULL;
                continue;
            }
            sect = trim_in_place(s + 1, close);
            parent = NULL;
            if (!ini_push_sect(f, sect)) return false;
            continue;
        }
        if (!sect) continue; /* before any section */
        char *eq = s;
        while (*eq && *eq != '=' && *eq != ':') eq++;
        if (!*eq) continue; /* a continuation line of a multi-line value: unused */
        *eq = 0;
        char *key = trim_in_place(s, eq);
        char *val = eq + 1;
        val = trim_in_place(val, val + strlen(val));
        cut_inline_comment(val);
        if (indented && parent) {
            if (!ini_push_prop(f, sect, parent, key, val)) return false;
            continue;
        }
        if (!ini_push_prop(f, sect, key, NULL, val)) return false;
        parent = *val ? NULL : key;
    }
    return true;
}

/* Reads and parses f->path. DX_OK also when the file does not exist (state F_MISSING). */
static dx_err ini_load(ini *f, dx_result *r) {
    if (f->state == F_NOPATH) return DX_OK;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            f->state = F_MISSING;
            return DX_OK;
        }
        return dx_fail(r, DX_ERR_IO, "path", "cannot open %s: %s", f->path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dx_fail(r, DX_ERR_IO, "path", "%s is not a regular file", f->path);
    }
    if (st.st_size > (off_t)MAX_FILE_BYTES) {
        close(fd);
        return dx_fail(r, DX_ERR_IO, "path", "%s is larger than %u bytes; is it the right file?",
                       f->path, MAX_FILE_BYTES);
    }
    size_t size = (size_t)st.st_size;
    f->text = malloc(size + 1);
    if (!f->text) {
        close(fd);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory reading %s", f->path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, f->text + got, size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break; /* a file that shrank: parse what we have */
        got += (size_t)k;
    }
    close(fd);
    f->size = got;
    f->text[got] = 0;
    f->state = F_LOADED;
    if (!ini_parse(f)) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory parsing %s", f->path);
    return DX_OK;
}

/* "profile <name>" with any whitespace between, or "default" for the default profile. */
static bool sect_is_profile(const char *sect, const char *name, bool config_file) {
    if (!config_file) return strcmp(sect, name) == 0;
    if (strcmp(name, "default") == 0 && strcmp(sect, "default") == 0) return true;
    if (strncmp(sect, "profile", 7) != 0 || !is_sp(sect[7])) return false;
    const char *n = sect + 7;
    while (is_sp(*n)) n++;
    return strcmp(n, name) == 0;
}

static bool sect_is_services(const char *sect, const char *name) {
    if (strncmp(sect, "services", 8) != 0 || !is_sp(sect[8])) return false;
    const char *n = sect + 8;
    while (is_sp(*n)) n++;
    return strcmp(n, name) == 0;
}

static bool ini_has_profile(const ini *f, const char *profile, bool config_file) {
    for (size_t i = 0; i < f->nsects; i++)
        if (sect_is_profile(f->sects[i], profile, config_file)) return true;
    return false;
}

/* Last non-empty value of key (sub-key sub, or NULL) in the profile's sections. */
static const char *ini_profile_get(const ini *f, const char *profile, bool config_file, const char *key) {
    for (size_t i = f->n; i-- > 0;) {
        const ini_prop *p = &f->props[i];
        if (!p->sub && *p->val && strcasecmp(p->key, key) == 0 && sect_is_profile(p->sect, profile, config_file))
            return p->val;
    }
    return NULL;
}

static const char *ini_services_get(const ini *f, const char *services, const char *service, const char *sub) {
    for (size_t i = f->n; i-- > 0;) {
        const ini_prop *p = &f->props[i];
        if (p->sub && *p->val && strcasecmp(p->key, service) == 0 && strcasecmp(p->sub, sub) == 0 &&
            sect_is_services(p->sect, services))
            return p->val;
    }
    return NULL;
}

/* Sets f->path from an override variable (with "~/" expanded) or HOME + rel. */
static void ini_set_path(ini *f, const env_snap *env, int override_var, const char *rel) {
    memset(f, 0, sizeof *f);
    const char *home = env->v[E_HOME];
    const char *o = env->v[override_var];
    int k;
    if (o) {
        if (o[0] == '~' && (o[1] == '/' || o[1] == 0)) {
            if (!home) {
                snprintf(f->path, sizeof f->path, "%s", o);
                f->state = F_NOPATH;
                return;
            }
            k = snprintf(f->path, sizeof f->path, "%s%s", home, o + 1);
        } else {
            k = snprintf(f->path, sizeof f->path, "%s", o);
        }
    } else if (home) {
        k = snprintf(f->path, sizeof f->path, "%s/%s", home, rel);
    } else {
        snprintf(f->path, sizeof f->path, "~/%s", rel);
        f->state = F_NOPATH;
        return;
    }
    if (k < 0 || (size_t)k >= sizeof f->path) f->state = F_NOPATH;
}

/* The profile in effect and whether it was named (by option or AWS_PROFILE). */
static const char *pick_profile(const env_snap *env, const dx_aws_opts *opt, bool *named) {
    if (opt && opt->profile && *opt->profile) {
        *named = true;
        return opt->profile;
    }
    if (env->v[E_PROFILE]) {
        *named = true;
        return env->v[E_PROFILE];
    }
    *named = false;
    return "default";
}

/* What a file said about the profile; `missing` describes a profile section without what was sought. */
static const char *file_note(const ini *f, const char *profile, bool config_file, const char *missing) {
    switch (f->state) {
    case F_NOPATH: return "HOME not set";
    case F_MISSING: return "no such file";
    case F_UNKNOWN: return "not read";
    case F_LOADED: break;
    }
    if (!ini_has_profile(f, profile, config_file)) return config_file ? "no such profile" : "no such section";
    return missing ? missing : "found";
}

/* ------------------------------------------------------------ endpoints */

dx_err dx_endpoint_parse(const char *url, dx_endpoint *out, dx_result *r) {
    memset(out, 0, sizeof *out);
    if (!url || !*url) return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL is empty");
    size_t ul = strlen(url);
    if (ul >= sizeof out->url)
        return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL is longer than %zu bytes",
                       sizeof out->url - 1);
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return dx_fail(r, DX_ERR_CONFIG, "endpoint_url",
                           "the endpoint URL '%s' contains a space or control character", url);
    const char *sep = strstr(url, "://");
    if (!sep)
        return dx_fail(r, DX_ERR_CONFIG, "endpoint_url",
                       "the endpoint URL '%s' has no scheme; write it as http://host:port or https://host", url);
    size_t sl = (size_t)(sep - url);
    uint16_t defport;
    if (sl == 5 && strncasecmp(url, "https", 5) == 0) {
        snprintf(out->scheme, sizeof out->scheme, "https");
        defport = 443;
    } else if (sl == 4 && strncasecmp(url, "http", 4) == 0) {
        snprintf(out->scheme, sizeof out->scheme, "http");
        defport = 80;
    } else {
        return dx_fail(r, DX_ERR_CONFIG, "endpoint_url",
                       "the endpoint URL '%s' must start with http:// or https://", url);
    }
    const char *auth = sep + 3;
    const char *auth_end = auth + strcspn(auth, "/?#");
    if (*auth_end == '?' || *auth_end == '#' || strpbrk(auth_end, "?#"))
        return dx_fail(r, DX_ERR_CONFIG, "endpoint_url",
                       "the endpoint URL '%s' has a query or fragment; give only scheme, host, port and path", url);
    if (memchr(auth, '@', (size_t)(auth_end - auth)))
        return dx_fail(r, DX_ERR_CONFIG, "endpoint_url",
                       "the endpoint URL has user information ('@'); credentials do not belong in the URL");
    const char *h = auth, *h_end, *port_s = NULL;
    bool v6 = false;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(auth_end - h));
        if (!close)
            return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL '%s' has an unclosed '['", url);
        v6 = true;
        h_end = close;
        h++;
        if (close + 1 < auth_end) {
            if (close[1] != ':')
                return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL '%s' is malformed after ']'", url);
            port_s = close + 2;
        }
    } else {
        const char *colon = memchr(h, ':', (size_t)(auth_end - h));
        h_end = colon ? colon : auth_end;
        if (colon) port_s = colon + 1;
    }
    size_t hl = (size_t)(h_end - h);
    if (hl == 0) return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL '%s' has no host", url);
    if (hl >= sizeof out->host)
        return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL's host is too long");
    memcpy(out->host, h, hl);
    out->host[hl] = 0;
    for (char *c = out->host; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    out->port = defport;
    bool explicit_port = false;
    if (port_s) {
        unsigned long pv = 0;
        const char *c = port_s;
        if (c == auth_end)
            return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL '%s' has an empty port", url);
        for (; c < auth_end; c++) {
            if (*c < '0' || *c > '9' || pv > 65535)
                return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL '%s' has a bad port", url);
            pv = pv * 10 + (unsigned long)(*c - '0');
        }
        if (pv == 0 || pv > 65535)
            return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL '%s' has a port outside 1-65535", url);
        out->port = (uint16_t)pv;
        explicit_port = true;
    }
    snprintf(out->path, sizeof out->path, "%s", *auth_end ? auth_end : "/");
    if (explicit_port && out->port != defport)
        snprintf(out->host_header, sizeof out->host_header, v6 ? "[%s]:%u" : "%s:%u", out->host, (unsigned)out->port);
    else
        snprintf(out->host_header, sizeof out->host_header, v6 ? "[%s]" : "%s", out->host);
    /* The normalised URL: scheme, host header, path without a lone trailing '/'. */
    if (!fmt(out->url, sizeof out->url, "%s://%s%s", out->scheme, out->host_header,
             strcmp(out->path, "/") == 0 ? "" : out->path))
        return dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "the endpoint URL is too long");
    return DX_OK;
}

/* ------------------------------------------------------------ region and endpoint */

static dx_err load_files(const env_snap *env, ini *cred, ini *conf, dx_result *r) {
    ini_set_path(cred, env, E_CREDS_FILE, ".aws/credentials");
    ini_set_path(conf, env, E_CONFIG_FILE, ".aws/config");
    dx_err e = ini_load(cred, r);
    if (e == DX_OK) e = ini_load(conf, r);
    return e;
}

static dx_err check_profile_exists(const char *profile, bool named, const ini *cred, const ini *conf,
                                   dx_result *r) {
    if (!named || ini_has_profile(cred, profile, false) || ini_has_profile(conf, profile, true)) return DX_OK;
    return dx_fail(r, DX_ERR_CONFIG, "profile",
                   "profile '%s' not found: looked in %s (%s) and %s (%s); check AWS_PROFILE or --profile",
                   profile, cred->path, file_note(cred, profile, false, NULL), conf->path,
                   file_note(conf, profile, true, NULL));
}

void dx_aws_default_endpoint(const char *region, char *url, size_t n) {
    bool cn = strncmp(region, "cn-", 3) == 0;
    snprintf(url, n, "https://dynamodb.%s.amazonaws.com%s", region, cn ? ".cn" : "");
}

dx_err dx_aws_resolve(const dx_env *env, const dx_aws_opts *opt, dx_aws_settings *out, dx_result *r) {
    memset(out, 0, sizeof *out);
    env_snap es;
    ini cred, conf;
    memset(&cred, 0, sizeof cred);
    memset(&conf, 0, sizeof conf);
    if (!env_snap_take(&es, env)) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory reading the environment");
    bool named;
    const char *profile = pick_profile(&es, opt, &named);
    snprintf(out->profile, sizeof out->profile, "%s", profile);
    dx_err e = load_files(&es, &cred, &conf, r);
    if (e) goto done;
    if ((e = check_profile_exists(profile, named, &cred, &conf, r))) goto done;

    /* Region. */
    const char *region = NULL;
    if (opt && opt->region && *opt->region) {
        region = opt->region;
        snprintf(out->region_from, sizeof out->region_from, "option");
    } else if (es.v[E_REGION]) {
        region = es.v[E_REGION];
        snprintf(out->region_from, sizeof out->region_from, "AWS_REGION");
    } else if (es.v[E_DEFAULT_REGION]) {
        region = es.v[E_DEFAULT_REGION];
        snprintf(out->region_from, sizeof out->region_from, "AWS_DEFAULT_REGION");
    } else if ((region = ini_profile_get(&conf, profile, true, "region")) != NULL) {
        fmt(out->region_from, sizeof out->region_from, "profile '%s' in %s", profile, conf.path);
    }
    if (!region) {
        e = dx_fail(r, DX_ERR_CONFIG, "region",
                    "no region: looked in AWS_REGION, AWS_DEFAULT_REGION, profile '%s' in %s (%s); "
                    "set AWS_REGION (e.g. us-east-1) or add region to the profile",
                    profile, conf.path, file_note(&conf, profile, true, "no region"));
        goto done;
    }
    if (!region_ok(region)) {
        e = dx_fail(r, DX_ERR_CONFIG, "region",
                    "the region '%.64s' from %s is not a region name (like us-east-1)", region, out->region_from);
        goto done;
    }
    snprintf(out->region, sizeof out->region, "%s", region);

    /* Endpoint. */
    const char *url = NULL;
    const char *ign = ini_profile_get(&conf, profile, true, "ignore_configured_endpoint_urls");
    bool ignore = env_true(&es, E_IGNORE_EP) || (ign && strcasecmp(ign, "true") == 0);
    if (opt && opt->endpoint_url && *opt->endpoint_url) {
        url = opt->endpoint_url;
        snprintf(out->endpoint_from, sizeof out->endpoint_from, "option");
    } else if (!ignore && es.v[E_EP_DDB]) {
        url = es.v[E_EP_DDB];
        snprintf(out->endpoint_from, sizeof out->endpoint_from, "AWS_ENDPOINT_URL_DYNAMODB");
    } else if (!ignore && es.v[E_EP]) {
        url = es.v[E_EP];
        snprintf(out->endpoint_from, sizeof out->endpoint_from, "AWS_ENDPOINT_URL");
    } else if (!ignore) {
        const char *svc = ini_profile_get(&conf, profile, true, "services");
        if (svc && (url = ini_services_get(&conf, svc, "dynamodb", "endpoint_url")) != NULL) {
            fmt(out->endpoint_from, sizeof out->endpoint_from, "services '%s' (dynamodb) in %s", svc, conf.path);
        } else if ((url = ini_profile_get(&conf, profile, true, "endpoint_url")) != NULL) {
            fmt(out->endpoint_from, sizeof out->endpoint_from, "profile '%s' in %s", profile, conf.path);
        }
    }
    char defurl[160];
    if (!url) {
        dx_aws_default_endpoint(out->region, defurl, sizeof defurl);
        url = defurl;
        snprintf(out->endpoint_from, sizeof out->endpoint_from, "default for the region");
    }
    dx_result pr;
    dx_result_clear(&pr);
    if (dx_endpoint_parse(url, &out->endpoint, &pr) != DX_OK) {
        e = dx_fail(r, DX_ERR_CONFIG, "endpoint_url", "%s (from %s)", pr.message, out->endpoint_from);
        goto done;
    }
done:
    ini_free(&cred);
    ini_free(&conf);
    env_snap_free(&es);
    return e;
}

/* ------------------------------------------------------------ snapshots */

typedef struct creds_impl {
    dx_creds pub;
    atomic_int refs;
    size_t size; /* bytes in data */
    char data[];
} creds_impl;

static dx_creds *creds_make(const char *akid, const char *secret, const char *token, int64_t exp,
                            const char *source) {
    if (!akid || !*akid || !secret || !*secret) return NULL;
    size_t a = strlen(akid) + 1, s = strlen(secret) + 1, t = token && *token ? strlen(token) + 1 : 0;
    creds_impl *c = malloc(sizeof *c + a + s + t);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    atomic_init(&c->refs, 1);
    c->size = a + s + t;
    memcpy(c->data, akid, a);
    memcpy(c->data + a, secret, s);
    if (t) memcpy(c->data + a + s, token, t);
    c->pub.access_key_id = c->data;
    c->pub.secret_access_key = c->data + a;
    c->pub.session_token = t ? c->data + a + s : NULL;
    c->pub.expiration_ms = exp;
    c->pub.source = source;
    return &c->pub;
}

dx_creds *dx_creds_new(const char *access_key_id, const char *secret_access_key,
                       const char *session_token, int64_t expiration_ms) {
    return creds_make(access_key_id, secret_access_key, session_token, expiration_ms, "static");
}

dx_creds *dx_creds_ref(dx_creds *c) {
    if (c) atomic_fetch_add(&((creds_impl *)c)->refs, 1);
    return c;
}

void dx_creds_release(dx_creds *c) {
    if (!c) return;
    creds_impl *ci = (creds_impl *)c;
    if (atomic_fetch_sub(&ci->refs, 1) != 1) return;
    dx_memwipe(ci->data, ci->size);
    dx_memwipe(&ci->pub, sizeof ci->pub);
    free(ci);
}

dx_sigv4_creds dx_creds_sigv4(const dx_creds *c) {
    dx_sigv4_creds v = {NULL, NULL, NULL};
    if (c) {
        v.access_key_id = c->access_key_id;
        v.secret_access_key = c->secret_access_key;
        v.session_token = c->session_token;
    }
    return v;
}

/* ------------------------------------------------------------ HTTP for metadata */

typedef struct body {
    char *p;
    size_t len;
    bool overflow;
} body;

static size_t body_write(char *data, size_t size, size_t nmemb, void *ud) {
    body *b = ud;
    size_t n = size * nmemb;
    if (n > MAX_BODY_BYTES - 1 - b->len) {
        b->overflow = true;
        return 0; /* aborts the transfer */
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

static void body_wipe(body *b) {
    if (b->p) {
        dx_memwipe(b->p, MAX_BODY_BYTES);
        free(b->p);
    }
    b->p = NULL;
    b->len = 0;
}

static void slist_wipe_free(struct curl_slist *l) {
    for (struct curl_slist *s = l; s; s = s->next)
        if (s->data) dx_memwipe(s->data, strlen(s->data));
    curl_slist_free_all(l);
}

/*
 * One HTTP exchange: method, url, up to two extra header lines. On DX_OK,
 * *status is the HTTP status and b holds the body (the caller wipes it).
 * Transport failures give DX_ERR_TIMEOUT or DX_ERR_NETWORK with a
 * description (never containing a header) in why.
 */
static dx_err http_once(const char *method, const char *url, const char *h1, const char *h2,
                        uint32_t timeout_ms, long *status, body *b, char *why, size_t whyn) {
    *status = 0;
    b->len = 0;
    b->overflow = false;
    if (!b->p && !(b->p = malloc(MAX_BODY_BYTES))) {
        snprintf(why, whyn, "out of memory");
        return DX_ERR_NOMEM;
    }
    b->p[0] = 0;
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(why, whyn, "curl_easy_init failed");
        return DX_ERR_NOMEM;
    }
    struct curl_slist *hl = NULL, *tmp;
    dx_err e = DX_OK;
    if (h1 && !(tmp = curl_slist_append(hl, h1))) goto oom;
    if (h1) hl = tmp;
    if (h2 && !(tmp = curl_slist_append(hl, h2))) goto oom;
    if (h2) hl = tmp;
    if ((tmp = curl_slist_append(hl, "Expect:")) == NULL) goto oom;
    hl = tmp;

    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    } else if (b->overflow) {
        snprintf(why, whyn, "response larger than %u bytes", MAX_BODY_BYTES);
        e = DX_ERR_PROTOCOL;
    } else {
        snprintf(why, whyn, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        e = cc == CURLE_OPERATION_TIMEDOUT ? DX_ERR_TIMEOUT : DX_ERR_NETWORK;
    }
    curl_easy_cleanup(c);
    slist_wipe_free(hl);
    return e;
oom:
    curl_easy_cleanup(c);
    slist_wipe_free(hl);
    snprintf(why, whyn, "out of memory");
    return DX_ERR_NOMEM;
}

/* http_once with up to `attempts` tries on transport errors and 5xx. */
static dx_err http_do(const char *method, const char *url, const char *h1, const char *h2,
                      uint32_t timeout_ms, uint32_t attempts, long *status, body *b, char *why, size_t whyn) {
    dx_err e = DX_OK;
    for (uint32_t i = 0; i < attempts; i++) {
        e = http_once(method, url, h1, h2, timeout_ms, status, b, why, whyn);
        if (e == DX_ERR_NOMEM || e == DX_ERR_PROTOCOL) return e;
        if (e == DX_OK && *status < 500) return DX_OK;
    }
    return e;
}

/* ------------------------------------------------------------ credential JSON */

static void json_wipe(cJSON *j) {
    for (; j; j = j->next) {
        if (j->valuestring) dx_memwipe(j->valuestring, strlen(j->valuestring));
        if (j->string) dx_memwipe(j->string, strlen(j->string));
        json_wipe(j->child);
    }
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "2015-08-30T12:36:00Z", optional fraction, 'Z' or "+00:00" / "+0000". ms since the epoch, or -1. */
static int64_t parse_iso8601(const char *s) {
    int v[6] = {0};
    const int width[6] = {4, 2, 2, 2, 2, 2};
    const char sep[6] = {'-', '-', 'T', ':', ':', 0};
    const char *p = s;
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < width[i]; k++, p++) {
            if (*p < '0' || *p > '9') return -1;
            v[i] = v[i] * 10 + (*p - '0');
        }
        if (sep[i]) {
            if (*p != sep[i] && !(sep[i] == 'T' && (*p == 't' || *p == ' '))) return -1;
            p++;
        }
    }
    int ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0) return -1;
        for (; digits < 3; digits++) ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') p++;
    else if (strcmp(p, "+00:00") == 0 || strcmp(p, "+0000") == 0) p += strlen(p);
    else return -1;
    if (*p) return -1;
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60) return -1;
    int64_t days = days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]);
    return ((days * 86400 + v[3] * 3600 + v[4] * 60 + v[5]) * 1000) + ms;
}

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) && it->valuestring && *it->valuestring ? it->valuestring : NULL;
}

/* Parses {"AccessKeyId","SecretAccessKey","Token","Expiration"[,"Code"]}; `source` starts
 * messages, `source_name` is the snapshot's dx_creds.source. */
static dx_err parse_creds_json(const body *b, const char *source, const char *source_name,
                               const char *where, dx_creds **out, dx_result *r) {
    *out = NULL;
    cJSON *j = cJSON_ParseWithLength(b->p, b->len);
    if (!j || !cJSON_IsObject(j)) {
        if (j) {
            json_wipe(j);
            cJSON_Delete(j);
        }
        return dx_fail(r, DX_ERR_PROTOCOL, "credentials", "%s: the response from %s is not a JSON object",
                       source, where);
    }
    dx_err e = DX_OK;
    const char *code = jstr(j, "Code");
    const char *akid = jstr(j, "AccessKeyId"), *secret = jstr(j, "SecretAccessKey");
    const char *token = jstr(j, "Token"), *exps = jstr(j, "Expiration");
    int64_t exp = 0;
    if (code && strcmp(code, "Success") != 0) {
        const char *m = jstr(j, "Message");
        e = dx_fail(r, DX_ERR_AUTH, "credentials", "%s: %s answered Code '%.64s'%s%.200s", source, where, code,
                    m ? ": " : "", m ? m : "");
    } else if (!akid || !secret) {
        e = dx_fail(r, DX_ERR_PROTOCOL, "credentials",
                    "%s: the response from %s lacks AccessKeyId or SecretAccessKey", source, where);
    } else if (exps && (exp = parse_iso8601(exps)) < 0) {
        e = dx_fail(r, DX_ERR_PROTOCOL, "credentials", "%s: the Expiration '%.40s' from %s is not an ISO 8601 time",
                    source, exps, where);
    } else if (!(*out = creds_make(akid, secret, token, exp, source_name))) {
        e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    }
    json_wipe(j);
    cJSON_Delete(j);
    return e;
}

/* ------------------------------------------------------------ provider */

struct dx_creds_provider {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    env_snap env;
    dx_aws_opts opt; /* strings below are owned copies */
    char *opt_profile, *opt_container_base;
    bool is_static;
    dx_creds *cur;
    uint64_t refresh_at; /* wall ms after which cur should be replaced (when it expires) */
    bool refreshing, invalid;
    uint64_t retry_at;   /* no new attempt before this (after a failure) */
    dx_result last;      /* last failure, returned while retry_at is ahead and nothing is valid */
};

static uint64_t prov_now(const dx_creds_provider *p) {
    return p->opt.clock_ms ? p->opt.clock_ms(p->opt.clock_ud) : dx_wall_ms();
}

dx_err dx_creds_provider_new(const dx_env *env, const dx_aws_opts *opt, dx_creds_provider **out,
                             dx_result *r) {
    *out = NULL;
    dx_creds_provider *p = calloc(1, sizeof *p);
    if (!p) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory creating the credentials provider");
    if (opt) p->opt = *opt;
    p->opt.region = p->opt.endpoint_url = NULL; /* not used here; not copied */
    if (!p->opt.metadata_timeout_ms) p->opt.metadata_timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!p->opt.metadata_attempts) p->opt.metadata_attempts = DEFAULT_ATTEMPTS;
    if (!p->opt.refresh_margin_ms) p->opt.refresh_margin_ms = DEFAULT_MARGIN_MS;
    if (!p->opt.retry_after_ms) p->opt.retry_after_ms = DEFAULT_RETRY_AFTER_MS;
    bool ok = env_snap_take(&p->env, env);
    if (ok && opt && opt->profile && *opt->profile) ok = (p->opt_profile = strdup(opt->profile)) != NULL;
    if (ok && opt && opt->container_base_url) ok = (p->opt_container_base = strdup(opt->container_base_url)) != NULL;
    p->opt.profile = p->opt_profile;
    p->opt.container_base_url = p->opt_container_base;
    if (!ok || pthread_mutex_init(&p->mu, NULL) != 0) {
        env_snap_free(&p->env);
        free(p->opt_profile);
        free(p->opt_container_base);
        free(p);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory creating the credentials provider");
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        env_snap_free(&p->env);
        free(p->opt_profile);
        free(p->opt_container_base);
        free(p);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "cannot create a condition variable");
    }
    *out = p;
    return DX_OK;
}

dx_err dx_creds_provider_new_static(const char *access_key_id, const char *secret_access_key,
                                    const char *session_token, dx_creds_provider **out, dx_result *r) {
    *out = NULL;
    if (!access_key_id || !*access_key_id || !secret_access_key || !*secret_access_key)
        return dx_fail(r, DX_ERR_INVALID_ARG, "credentials", "static credentials need an access key id and a secret");
    dx_err e = dx_creds_provider_new(NULL, NULL, out, r);
    if (e) return e;
    (*out)->cur = creds_make(access_key_id, secret_access_key, session_token, 0, "static");
    if (!(*out)->cur) {
        dx_creds_provider_free(*out);
        *out = NULL;
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    }
    (*out)->is_static = true;
    (*out)->refresh_at = UINT64_MAX;
    return DX_OK;
}

void dx_creds_provider_free(dx_creds_provider *p) {
    if (!p) return;
    dx_creds_release(p->cur);
    env_snap_free(&p->env);
    free(p->opt_profile);
    free(p->opt_container_base);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void dx_creds_provider_invalidate(dx_creds_provider *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (!p->is_static) {
        p->invalid = true;
        p->retry_at = 0;
    }
    pthread_mutex_unlock(&p->mu);
}

/* -- the chain's steps; each returns DX_OK with *out set, DX_OK with *out NULL
 *    and a note (not found: go on), or an error that ends the chain. */

static dx_err from_env(const dx_creds_provider *p, dx_creds **out, msg *notes, dx_result *r) {
    const env_snap *e = &p->env;
    *out = NULL;
    if (p->opt.profile) {
        msg_add(notes, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (skipped: profile '%s' chosen explicitly)",
                p->opt.profile);
        return DX_OK;
    }
    if (!e->v[E_AKID] && !e->v[E_SECRET]) {
        msg_add(notes, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)");
        return DX_OK;
    }
    if (!e->v[E_AKID] || !e->v[E_SECRET])
        return dx_fail(r, DX_ERR_CONFIG, e->v[E_AKID] ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID",
                       "partial credentials in the environment: %s is set but %s is not; set both, "
                       "or unset both to use a profile",
                       e->v[E_AKID] ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       e->v[E_AKID] ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    if (!(*out = creds_make(e->v[E_AKID], e->v[E_SECRET], e->v[E_TOKEN], 0, "environment")))
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    return DX_OK;
}

static const char *const UNSUPPORTED_KEYS[][2] = {
    {"role_arn", "role_arn (assume role)"},
    {"credential_process", "credential_process"},
    {"sso_session", "sso_session (IAM Identity Center)"},
    {"sso_start_url", "sso_start_url (IAM Identity Center)"},
    {"web_identity_token_file", "web_identity_token_file"},
    {"login_session", "login_session"},
};

/* Keys from one file's profile section. */
static dx_err from_ini(const ini *f, const char *profile, bool config_file, const char *source,
                       dx_creds **out, dx_result *r) {
    *out = NULL;
    if (f->state != F_LOADED) return DX_OK;
    const char *akid = ini_profile_get(f, profile, config_file, "aws_access_key_id");
    const char *secret = ini_profile_get(f, profile, config_file, "aws_secret_access_key");
    const char *token = ini_profile_get(f, profile, config_file, "aws_session_token");
    if (!token) token = ini_profile_get(f, profile, config_file, "aws_security_token");
    if (akid && secret) {
        if (!(*out = creds_make(akid, secret, token, 0, source))) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
        return DX_OK;
    }
    if (akid || secret)
        return dx_fail(r, DX_ERR_CONFIG, akid ? "aws_secret_access_key" : "aws_access_key_id",
                       "partial credentials: profile '%s' in %s has %s but no %s", profile, f->path,
                       akid ? "aws_access_key_id" : "aws_secret_access_key",
                       akid ? "aws_secret_access_key" : "aws_access_key_id");
    return DX_OK;
}

static dx_err from_profile(const dx_creds_provider *p, dx_creds **out, msg *notes, dx_result *r) {
    ini cred, conf;
    bool named;
    const char *profile = pick_profile(&p->env, &p->opt, &named);
    dx_err e = load_files(&p->env, &cred, &conf, r);
    if (e) goto done;
    if ((e = check_profile_exists(profile, named, &cred, &conf, r))) goto done;
    if ((e = from_ini(&cred, profile, false, "shared credentials file", out, r)) || *out) goto done;
    if ((e = from_ini(&conf, profile, true, "config file", out, r)) || *out) goto done;
    for (size_t i = 0; i < sizeof UNSUPPORTED_KEYS / sizeof UNSUPPORTED_KEYS[0]; i++) {
        const ini *where = ini_profile_get(&conf, profile, true, UNSUPPORTED_KEYS[i][0]) ? &conf
                           : ini_profile_get(&cred, profile, false, UNSUPPORTED_KEYS[i][0]) ? &cred
                                                                                             : NULL;
        if (where) {
            e = dx_fail(r, DX_ERR_CONFIG, "profile",
                        "profile '%s' in %s uses %s, which dynox does not support; export keys "
                        "(e.g. `aws configure export-credentials --profile %s --format env`) or use "
                        "a profile with aws_access_key_id/aws_secret_access_key",
                        profile, where->path, UNSUPPORTED_KEYS[i][1], profile);
            goto done;
        }
    }
    msg_add(notes, ", profile '%s' in %s (%s) and %s (%s)", profile, cred.path,
            file_note(&cred, profile, false, "no keys"), conf.path, file_note(&conf, profile, true, "no keys"));
done:
    ini_free(&cred);
    ini_free(&conf);
    return e;
}

/* Plain http only to loopback or the ECS/EKS link-local addresses, as the SDKs allow. */
static bool container_host_ok(const dx_endpoint *ep) {
    if (strcmp(ep->scheme, "https") == 0) return true;
    const char *h = ep->host;
    return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 ||
           strcmp(h, "169.254.170.2") == 0 || strcmp(h, "169.254.170.23") == 0 || strcmp(h, "fd00:ec2::23") == 0;
}

/* Reads the authorization token file: trimmed of trailing whitespace, no line breaks inside. */
static dx_err read_token_file(const char *path, char **tok, dx_result *r) {
    *tok = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dx_fail(r, DX_ERR_CONFIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                       "container credentials: cannot read the token file %s (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): %s",
                       path, strerror(errno));
    char *buf = malloc(8192);
    if (!buf) {
        close(fd);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    }
    size_t got = 0;
    ssize_t k;
    while (got < 8191 && ((k = read(fd, buf + got, 8191 - got)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) got += (size_t)k;
    close(fd);
    buf[got] = 0;
    while (got && is_sp(buf[got - 1])) buf[--got] = 0;
    dx_err e = DX_OK;
    if (got == 0 || strpbrk(buf, "\r\n"))
        e = dx_fail(r, DX_ERR_CONFIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                    "container credentials: the token file %s is empty or has more than one line", path);
    else if (!(*tok = strdup(buf)))
        e = dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    dx_memwipe(buf, 8192);
    free(buf);
    return e;
}

static dx_err from_container(const dx_creds_provider *p, dx_creds **out, msg *notes, dx_result *r) {
    const env_snap *e = &p->env;
    *out = NULL;
    char url[1024];
    const char *var;
    if (e->v[E_REL_URI]) {
        var = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
        const char *base = p->opt.container_base_url ? p->opt.container_base_url : CONTAINER_BASE;
        const char *rel = e->v[E_REL_URI];
        if (snprintf(url, sizeof url, "%s%s%s", base, rel[0] == '/' ? "" : "/", rel) >= (int)sizeof url)
            return dx_fail(r, DX_ERR_CONFIG, var, "container credentials: %s is too long", var);
    } else if (e->v[E_FULL_URI]) {
        var = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
        if (snprintf(url, sizeof url, "%s", e->v[E_FULL_URI]) >= (int)sizeof url)
            return dx_fail(r, DX_ERR_CONFIG, var, "container credentials: %s is too long", var);
    } else {
        msg_add(notes, ", container credentials (not configured)");
        return DX_OK;
    }
    /* Validate scheme and host (a query string, allowed here, is left out of the check). */
    char hostpart[1024];
    snprintf(hostpart, sizeof hostpart, "%.*s", (int)strcspn(url, "?"), url);
    dx_endpoint ep;
    dx_result pr;
    dx_result_clear(&pr);
    if (dx_endpoint_parse(hostpart, &ep, &pr) != DX_OK)
        return dx_fail(r, DX_ERR_CONFIG, var, "container credentials: %s: %s", var, pr.message);
    if (e->v[E_FULL_URI] && !e->v[E_REL_URI] && !container_host_ok(&ep))
        return dx_fail(r, DX_ERR_CONFIG, var,
                       "container credentials: %s=%s uses plain http to %s; only https, loopback, "
                       "169.254.170.2, 169.254.170.23 and fd00:ec2::23 are allowed",
                       var, url, ep.host);

    char *tok = NULL;
    dx_err err = DX_OK;
    if (e->v[E_CTOKEN_FILE]) {
        if ((err = read_token_file(e->v[E_CTOKEN_FILE], &tok, r))) return err;
    } else if (e->v[E_CTOKEN]) {
        if (strpbrk(e->v[E_CTOKEN], "\r\n"))
            return dx_fail(r, DX_ERR_CONFIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                           "container credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break");
        if (!(tok = strdup(e->v[E_CTOKEN]))) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    }
    dx_buf auth = {0};
    if (tok && !dx_buf_printf(&auth, "Authorization: %s", tok)) {
        free_secret(tok);
        return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    }
    free_secret(tok);

    body b = {0};
    long status = 0;
    char why[CURL_ERROR_SIZE + 64];
    err = http_do("GET", url, auth.ptr, NULL, p->opt.metadata_timeout_ms, p->opt.metadata_attempts, &status, &b,
                  why, sizeof why);
    dx_buf_wipe(&auth);
    if (err) {
        err = dx_fail(r, err, var, "container credentials: GET %s (from %s) failed: %s", url, var, why);
    } else if (status != 200) {
        err = dx_fail(r, status == 401 || status == 403 ? DX_ERR_AUTH : DX_ERR_PROTOCOL, var,
                      "container credentials: GET %s (from %s) answered HTTP %ld%s", url, var, status,
                      status == 401 || status == 403 ? "; check AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)" : "");
    } else {
        char where[1100];
        snprintf(where, sizeof where, "%s", url);
        err = parse_creds_json(&b, "container credentials", "container", where, out, r);
    }
    body_wipe(&b);
    return err;
}

static void trim_body(body *b) {
    while (b->len && is_sp(b->p[b->len - 1])) b->p[--b->len] = 0;
}

static dx_err from_imds(const dx_creds_provider *p, dx_creds **out, msg *notes, dx_result *r) {
    const env_snap *e = &p->env;
    *out = NULL;
    if (env_true(e, E_IMDS_DISABLED)) {
        msg_add(notes, ", EC2 instance metadata (disabled)");
        return DX_OK;
    }
    char base[512];
    const char *b0 = e->v[E_IMDS_EP] ? e->v[E_IMDS_EP]
                     : (e->v[E_IMDS_MODE] && strcasecmp(e->v[E_IMDS_MODE], "IPv6") == 0) ? IMDS_BASE_V6
                                                                                          : IMDS_BASE;
    snprintf(base, sizeof base, "%s", b0);
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') base[--bl] = 0;

    char url[1024], why[CURL_ERROR_SIZE + 64], hdr[8192];
    body b = {0};
    long status = 0;
    uint32_t to = p->opt.metadata_timeout_ms, at = p->opt.metadata_attempts;
    dx_err err;
    bool have_token = false;

    snprintf(url, sizeof url, "%s/latest/api/token", base);
    err = http_do("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, NULL, to, at, &status, &b,
                  why, sizeof why);
    if (err) {
        msg_add(notes, ", EC2 instance metadata (not reachable at %s: %s)", base, why);
        err = DX_OK;
        goto done;
    }
    if (status == 200) {
        trim_body(&b);
        if (b.len == 0 || b.len > sizeof hdr - 64 || strpbrk(b.p, "\r\n")) {
            msg_add(notes, ", EC2 instance metadata (malformed token from %s)", base);
            goto done;
        }
        snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", b.p);
        have_token = true;
    } else if ((status == 403 || status == 404 || status == 405) && !env_true(e, E_IMDS_V1_DISABLED)) {
        /* IMDSv2 unavailable: IMDSv1 GETs without a token, as the CLI does. */
    } else {
        msg_add(notes, ", EC2 instance metadata (token request to %s answered HTTP %ld%s)", base, status,
                env_true(e, E_IMDS_V1_DISABLED) ? "; IMDSv1 disabled" : "");
        goto done;
    }

    snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", base);
    err = http_do("GET", url, have_token ? hdr : NULL, NULL, to, at, &status, &b, why, sizeof why);
    if (err || status != 200) {
        if (err) msg_add(notes, ", EC2 instance metadata (%s: %s)", url, why);
        else if (status == 404) msg_add(notes, ", EC2 instance metadata (no IAM role attached to the instance)");
        else msg_add(notes, ", EC2 instance metadata (%s answered HTTP %ld)", url, status);
        err = DX_OK;
        goto done;
    }
    trim_body(&b);
    size_t rl = strcspn(b.p, "\r\n");
    char role[256];
    if (rl == 0 || rl >= sizeof role) {
        msg_add(notes, ", EC2 instance metadata (no IAM role attached to the instance)");
        goto done;
    }
    memcpy(role, b.p, rl);
    role[rl] = 0;
    if (strchr(role, '/') || strchr(role, ' ')) {
        msg_add(notes, ", EC2 instance metadata (malformed role name)");
        goto done;
    }
    snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", base, role);
    err = http_do("GET", url, have_token ? hdr : NULL, NULL, to, at, &status, &b, why, sizeof why);
    if (err || status != 200) {
        if (err) msg_add(notes, ", EC2 instance metadata (%s: %s)", url, why);
        else msg_add(notes, ", EC2 instance metadata (%s answered HTTP %ld)", url, status);
        err = DX_OK;
        goto done;
    }
    err = parse_creds_json(&b, "EC2 instance metadata", "instance metadata", url, out, r);
done:
    dx_memwipe(hdr, sizeof hdr);
    body_wipe(&b);
    return err;
}

/* Runs the whole chain. On DX_OK *out is set. */
static dx_err resolve_chain(const dx_creds_provider *p, dx_creds **out, dx_result *r) {
    msg notes;
    memset(&notes, 0, sizeof notes);
    dx_err e;
    *out = NULL;
    if ((e = from_env(p, out, &notes, r)) || *out) return e;
    if ((e = from_profile(p, out, &notes, r)) || *out) return e;
    if ((e = from_container(p, out, &notes, r)) || *out) return e;
    if ((e = from_imds(p, out, &notes, r)) || *out) return e;
    return dx_fail(r, DX_ERR_CONFIG, "credentials",
                   "no credentials: looked in %s; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                   "or configure a profile (aws configure)",
                   notes.s);
}

static void install(dx_creds_provider *p, dx_creds *c, uint64_t now) {
    dx_creds_release(p->cur);
    p->cur = c;
    p->invalid = false;
    p->retry_at = 0;
    if (c->expiration_ms <= 0) {
        p->refresh_at = UINT64_MAX;
        return;
    }
    uint64_t exp = (uint64_t)c->expiration_ms;
    uint64_t at = exp > p->opt.refresh_margin_ms ? exp - p->opt.refresh_margin_ms : 0;
    /* Credentials handed out already inside the margin: do not refetch on every call. */
    if (at < now + p->opt.retry_after_ms) at = now + p->opt.retry_after_ms;
    p->refresh_at = at;
}

static bool usable(const dx_creds_provider *p, uint64_t now) {
    return p->cur && !p->invalid && (p->cur->expiration_ms <= 0 || now < (uint64_t)p->cur->expiration_ms);
}

dx_err dx_creds_provider_get(dx_creds_provider *p, dx_creds **out, dx_result *r) {
    *out = NULL;
    if (!p) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "no credentials provider");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->is_static) break;
        uint64_t now = prov_now(p);
        if (p->cur && !p->invalid && now < p->refresh_at) break; /* fresh */
        bool ok_now = usable(p, now);
        if (ok_now && (p->refreshing || now < p->retry_at)) break; /* someone refreshes, or we wait to retry */
        if (!ok_now && p->refreshing) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        if (!ok_now && now < p->retry_at && p->last.err) {
            dx_err e = p->last.err;
            if (r) *r = p->last;
            pthread_mutex_unlock(&p->mu);
            return e;
        }
        /* This thread refreshes, outside the lock. */
        p->refreshing = true;
        pthread_mutex_unlock(&p->mu);
        dx_creds *fresh = NULL;
        dx_result rr;
        dx_result_clear(&rr);
        dx_err e = resolve_chain(p, &fresh, &rr);
        pthread_mutex_lock(&p->mu);
        p->refreshing = false;
        pthread_cond_broadcast(&p->cv);
        now = prov_now(p);
        if (e == DX_OK) {
            install(p, fresh, now);
            break;
        }
        p->last = rr;
        p->retry_at = now + p->opt.retry_after_ms;
        if (usable(p, now)) break; /* keep the current credentials until they expire */
        pthread_mutex_unlock(&p->mu);
        if (r) *r = rr;
        return e;
    }
    *out = dx_creds_ref(p->cur);
    pthread_mutex_unlock(&p->mu);
    return DX_OK;
}
