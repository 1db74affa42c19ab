/*
 * expr.c - DynamoDB expressions: parse, check, evaluate, apply, build.
 *
 * One hand-written recursive-descent parser serves the three grammars
 * (condition / key condition, update, projection), which share a lexer, the
 * document path syntax and placeholder resolution. Semantics follow DynamoDB
 * as dynalite 4.0.0 implements it (db/{condition,update,projection}Parser.pegjs, db/index.js,
 * actions/updateItem.js, validations/index.js): the same checks, the same
 * message texts, and the same precedence between errors. dynalite records
 * the first error of each class while it parses and reports the class that
 * ranks highest; the parser here does the same with `slot`s. A syntax error
 * stops the parse at once and is reported as DynamoDB words it:
 * `Syntax error; token: "-", near: "a-b"` (near = previous token through next
 * token, as the source spells them).
 *
 * Trees live in the caller's arena and hold resolved placeholders: a path
 * element is the attribute name itself (NUL-terminated arena copy), a value
 * operand points at the ExpressionAttributeValues member. An update's paths
 * are also folded into a trie (one node per path element, children of a node
 * all names or all list indexes, which the overlap/conflict checks
 * guarantee). Applying an update walks the trie once over the old item and
 * copies only the containers on touched paths; every list index refers to the
 * list as it was before the update, as in DynamoDB. Projections use the same
 * trie to cut an item down.
 *
 * Invariants: parse recursion is bounded by MAX_DEPTH nested parentheses or
 * function calls, document paths by MAX_PATH elements; evaluation and apply
 * recurse only along those trees, never along the item's own depth.
 *
 * Must never: evaluate a placeholder it did not resolve at parse time, modify
 * the item it reads, allocate outside the caller's arena, or recurse without
 * a bound.
 */
#include "dynox/expr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64   /* nested parentheses / function calls in one expression */
#define MAX_PATH 64    /* elements in one document path (DynamoDB allows 32 levels) */
#define MAX_IN 100     /* operands after IN */

/* ================================================================ lexer */

enum tok_kind {
    T_EOF,
    T_IDENT,  /* [A-Za-z_][A-Za-z0-9_]* */
    T_NAME,   /* #[A-Za-z0-9_]* */
    T_VALUE,  /* :[A-Za-z0-9_]* */
    T_NUMBER, /* [0-9]+ (list indexes) */
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_DOT,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_BAD
};

typedef struct tok {
    uint32_t kind;
    uint32_t off, len;
} tok;

static bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_ident_part(unsigned char c) { return is_alpha(c) || is_digit(c); }
static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The token starting at or after byte `off` (whitespace skipped). */
static tok lex(const char *s, size_t n, size_t off) {
    while (off < n && is_space((unsigned char)s[off])) off++;
    tok t = {T_EOF, (uint32_t)off, 0};
    if (off >= n) return t;
    unsigned char c = (unsigned char)s[off];
    size_t e = off + 1;
    if (is_alpha(c) || c == '#' || c == ':') {
        t.kind = is_alpha(c) ? T_IDENT : c == '#' ? T_NAME : T_VALUE;
        while (e < n && is_ident_part((unsigned char)s[e])) e++;
    } else if (is_digit(c)) {
        t.kind = T_NUMBER;
        while (e < n && is_digit((unsigned char)s[e])) e++;
    } else {
        unsigned char d = off + 1 < n ? (unsigned char)s[off + 1] : 0;
        switch (c) {
        case '(': t.kind = T_LP; break;
        case ')': t.kind = T_RP; break;
        case '[': t.kind = T_LB; break;
        case ']': t.kind = T_RB; break;
        case '.': t.kind = T_DOT; break;
        case ',': t.kind = T_COMMA; break;
        case '=': t.kind = T_EQ; break;
        case '+': t.kind = T_PLUS; break;
        case '-': t.kind = T_MINUS; break;
        case '<':
            t.kind = d == '>' ? T_NE : d == '=' ? T_LE : T_LT;
            if (d == '>' || d == '=') e++;
            break;
        case '>':
            t.kind = d == '=' ? T_GE : T_GT;
            if (d == '=') e++;
            break;
        default:
            /* One whole UTF-8 sequence, so the message quotes a character. */
            t.kind = T_BAD;
            if (c >= 0xc0)
                while (e < n && ((unsigned char)s[e] & 0xc0) == 0x80 && e - off < 4) e++;
            break;
        }
    }
    t.len = (uint32_t)(e - off);
    return t;
}

/* Grammar keywords: words that are tokens of the grammar, not identifiers. */
enum kw { KW_NONE, KW_BETWEEN, KW_IN, KW_AND, KW_OR, KW_NOT, KW_SET, KW_REMOVE, KW_ADD, KW_DELETE };
static const char *const kw_text[] = {"", "BETWEEN", "IN", "AND", "OR", "NOT", "SET", "REMOVE", "ADD", "DELETE"};

enum mode { M_COND, M_UPDATE, M_PROJ };

static bool ieq(const char *s, size_t n, const char *word) {
    size_t i = 0;
    for (; i < n && word[i]; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (c != word[i]) return false;
    }
    return i == n && word[i] == 0;
}

/* ================================================================ reserved words */

/* DynamoDB's reserved words (upper case, sorted for bsearch), as dynalite lists them. */
static const char *const reserved[] = {
    "ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE", "ALL", "ALLOCATE", "ALTER",
    "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE", "ARRAY", "AS", "ASC", "ASCII", "ASENSITIVE",
    "ASSERTION", "ASYMMETRIC", "AT", "ATOMIC", "ATTACH", "ATTRIBUTE", "AUTH", "AUTHORIZATION",
    "AUTHORIZE", "AUTO", "AVG", "BACK", "BACKUP", "BASE", "BATCH", "BEFORE", "BEGIN", "BETWEEN",
    "BIGINT", "BINARY", "BIT", "BLOB", "BLOCK", "BOOLEAN", "BOTH", "BREADTH", "BUCKET", "BULK", "BY",
    "BYTE", "CALL", "CALLED", "CALLING", "CAPACITY", "CASCADE", "CASCADED", "CASE", "CAST",
    "CATALOG", "CHAR", "CHARACTER", "CHECK", "CLASS", "CLOB", "CLOSE", "CLUSTER", "CLUSTERED",
    "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE", "COLLATION", "COLLECTION", "COLUMN", "COLUMNS",
    "COMBINE", "COMMENT", "COMMIT", "COMPACT", "COMPILE", "COMPRESS", "CONDITION", "CONFLICT",
    "CONNECT", "CONNECTION", "CONSISTENCY", "CONSISTENT", "CONSTRAINT", "CONSTRAINTS",
    "CONSTRUCTOR", "CONSUMED", "CONTINUE", "CONVERT", "COPY", "CORRESPONDING", "COUNT", "COUNTER",
    "CREATE", "CROSS", "CUBE", "CURRENT", "CURSOR", "CYCLE", "DATA", "DATABASE", "DATE", "DATETIME",
    "DAY", "DEALLOCATE", "DEC", "DECIMAL", "DECLARE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINE",
    "DEFINED", "DEFINITION", "DELETE", "DELIMITED", "DEPTH", "DEREF", "DESC", "DESCRIBE",
    "DESCRIPTOR", "DETACH", "DETERMINISTIC", "DIAGNOSTICS", "DIRECTORIES", "DISABLE", "DISCONNECT",
    "DISTINCT", "DISTRIBUTE", "DO", "DOMAIN", "DOUBLE", "DROP", "DUMP", "DURATION", "DYNAMIC",
    "EACH", "ELEMENT", "ELSE", "ELSEIF", "EMPTY", "ENABLE", "END", "EQUAL", "EQUALS", "ERROR",
    "ESCAPE", "ESCAPED", "EVAL", "EVALUATE", "EXCEEDED", "EXCEPT", "EXCEPTION", "EXCEPTIONS",
    "EXCLUSIVE", "EXEC", "EXECUTE", "EXISTS", "EXIT", "EXPLAIN", "EXPLODE", "EXPORT", "EXPRESSION",
    "EXTENDED", "EXTERNAL", "EXTRACT", "FAIL", "FALSE", "FAMILY", "FETCH", "FIELDS", "FILE",
    "FILTER", "FILTERING", "FINAL", "FINISH", "FIRST", "FIXED", "FLATTERN", "FLOAT", "FOR", "FORCE",
    "FOREIGN", "FORMAT", "FORWARD", "FOUND", "FREE", "FROM", "FULL", "FUNCTION", "FUNCTIONS",
    "GENERAL", "GENERATE", "GET", "GLOB", "GLOBAL", "GO", "GOTO", "GRANT", "GREATER", "GROUP",
    "GROUPING", "HANDLER", "HASH", "HAVE", "HAVING", "HEAP", "HIDDEN", "HOLD", "HOUR", "IDENTIFIED",
    "IDENTITY", "IF", "IGNORE", "IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE", "INCREMENT",
    "INCREMENTAL", "INDEX", "INDEXED", "INDEXES", "INDICATOR", "INFINITE", "INITIALLY", "INLINE",
    "INNER", "INNTER", "INOUT", "INPUT", "INSENSITIVE", "INSERT", "INSTEAD", "INT", "INTEGER",
    "INTERSECT", "INTERVAL", "INTO", "INVALIDATE", "IS", "ISOLATION", "ITEM", "ITEMS", "ITERATE",
    "JOIN", "KEY", "KEYS", "LAG", "LANGUAGE", "LARGE", "LAST", "LATERAL", "LEAD", "LEADING", "LEAVE",
    "LEFT", "LENGTH", "LESS", "LEVEL", "LIKE", "LIMIT", "LIMITED", "LINES", "LIST", "LOAD", "LOCAL",
    "LOCALTIME", "LOCALTIMESTAMP", "LOCATION", "LOCATOR", "LOCK", "LOCKS", "LOG", "LOGED", "LONG",
    "LOOP", "LOWER", "MAP", "MATCH", "MATERIALIZED", "MAX", "MAXLEN", "MEMBER", "MERGE", "METHOD",
    "METRICS", "MIN", "MINUS", "MINUTE", "MISSING", "MOD", "MODE", "MODIFIES", "MODIFY", "MODULE",
    "MONTH", "MULTI", "MULTISET", "NAME", "NAMES", "NATIONAL", "NATURAL", "NCHAR", "NCLOB", "NEW",
    "NEXT", "NO", "NONE", "NOT", "NULL", "NULLIF", "NUMBER", "NUMERIC", "OBJECT", "OF", "OFFLINE",
    "OFFSET", "OLD", "ON", "ONLINE", "ONLY", "OPAQUE", "OPEN", "OPERATOR", "OPTION", "OR", "ORDER",
    "ORDINALITY", "OTHER", "OTHERS", "OUT", "OUTER", "OUTPUT", "OVER", "OVERLAPS", "OVERRIDE",
    "OWNER", "PAD", "PARALLEL", "PARAMETER", "PARAMETERS", "PARTIAL", "PARTITION", "PARTITIONED",
    "PARTITIONS", "PATH", "PERCENT", "PERCENTILE", "PERMISSION", "PERMISSIONS", "PIPE", "PIPELINED",
    "PLAN", "POOL", "POSITION", "PRECISION", "PREPARE", "PRESERVE", "PRIMARY", "PRIOR", "PRIVATE",
    "PRIVILEGES", "PROCEDURE", "PROCESSED", "PROJECT", "PROJECTION", "PROPERTY", "PROVISIONING",
    "PUBLIC", "PUT", "QUERY", "QUIT", "QUORUM", "RAISE", "RANDOM", "RANGE", "RANK", "RAW", "READ",
    "READS", "REAL", "REBUILD", "RECORD", "RECURSIVE", "REDUCE", "REF", "REFERENCE", "REFERENCES",
    "REFERENCING", "REGEXP", "REGION", "REINDEX", "RELATIVE", "RELEASE", "REMAINDER", "RENAME",
    "REPEAT", "REPLACE", "REQUEST", "RESET", "RESIGNAL", "RESOURCE", "RESPONSE", "RESTORE",
    "RESTRICT", "RESULT", "RETURN", "RETURNING", "RETURNS", "REVERSE", "REVOKE", "RIGHT", "ROLE",
    "ROLES", "ROLLBACK", "ROLLUP", "ROUTINE", "ROW", "ROWS", "RULE", "RULES", "SAMPLE", "SATISFIES",
    "SAVE", "SAVEPOINT", "SCAN", "SCHEMA", "SCOPE", "SCROLL", "SEARCH", "SECOND", "SECTION",
    "SEGMENT", "SEGMENTS", "SELECT", "SELF", "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE",
    "SERIALIZABLE", "SESSION", "SET", "SETS", "SHARD", "SHARE", "SHARED", "SHORT", "SHOW", "SIGNAL",
    "SIMILAR", "SIZE", "SKEWED", "SMALLINT", "SNAPSHOT", "SOME", "SOURCE", "SPACE", "SPACES",
    "SPARSE", "SPECIFIC", "SPECIFICTYPE", "SPLIT", "SQL", "SQLCODE", "SQLERROR", "SQLEXCEPTION",
    "SQLSTATE", "SQLWARNING", "START", "STATE", "STATIC", "STATUS", "STORAGE", "STORE", "STORED",
    "STREAM", "STRING", "STRUCT", "STYLE", "SUB", "SUBMULTISET", "SUBPARTITION", "SUBSTRING",
    "SUBTYPE", "SUM", "SUPER", "SYMMETRIC", "SYNONYM", "SYSTEM", "TABLE", "TABLESAMPLE", "TEMP",
    "TEMPORARY", "TERMINATED", "TEXT", "THAN", "THEN", "THROUGHPUT", "TIME", "TIMESTAMP", "TIMEZONE",
    "TINYINT", "TO", "TOKEN", "TOTAL", "TOUCH", "TRAILING", "TRANSACTION", "TRANSFORM", "TRANSLATE",
    "TRANSLATION", "TREAT", "TRIGGER", "TRIM", "TRUE", "TRUNCATE", "TTL", "TUPLE", "TYPE", "UNDER",
    "UNDO", "UNION", "UNIQUE", "UNIT", "UNKNOWN", "UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED",
    "UNTIL", "UPDATE", "UPPER", "URL", "USAGE", "USE", "USER", "USERS", "USING", "UUID", "VACUUM",
    "VALUE", "VALUED", "VALUES", "VARCHAR", "VARIABLE", "VARIANCE", "VARINT", "VARYING", "VIEW",
    "VIEWS", "VIRTUAL", "VOID", "WAIT", "WHEN", "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH",
    "WITHIN", "WITHOUT", "WORK", "WRAPPED", "WRITE", "YEAR", "ZONE",
};

static bool is_reserved(const char *s, size_t n) {
    char up[24];
    if (n == 0 || n >= sizeof up) return false; /* the longest reserved word has 14 letters */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        up[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    up[n] = 0;
    size_t lo = 0, hi = sizeof reserved / sizeof reserved[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(reserved[mid], up);
        if (c == 0) return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* ================================================================ trees */

enum elem_kind { E_NAME, E_INDEX, E_UNRESOLVED };

typedef struct pelem {
    uint32_t kind;  /* elem_kind */
    uint32_t len;   /* E_NAME: name length */
    uint32_t idx;   /* E_INDEX */
    const char *s;  /* E_NAME: NUL-terminated copy in the arena */
} pelem;

typedef struct path {
    pelem *e;
    uint32_t n;
} path;

enum node_kind { N_PATH, N_VALUE, N_FUNC, N_CMP, N_BETWEEN, N_IN, N_AND, N_OR, N_NOT, N_PLUS, N_MINUS };
enum cmp_op { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };
enum fn {
    F_UNKNOWN,
    F_ATTR_EXISTS,
    F_ATTR_NOT_EXISTS,
    F_ATTR_TYPE,
    F_BEGINS_WITH,
    F_CONTAINS,
    F_SIZE,
    F_IF_NOT_EXISTS,
    F_LIST_APPEND
};

static const char *const cmp_text[] = {"=", "<>", "<", "<=", ">", ">="};

typedef struct node node;
struct node {
    uint8_t kind;      /* node_kind */
    uint8_t op;        /* cmp_op or fn */
    bool parens;       /* came wrapped in parentheses */
    uint8_t attr_type; /* N_FUNC: the dx_type its result has, DX_T_NONE when unknown */
    uint32_t nargs;
    node **args;
    path p;            /* N_PATH */
    const dx_value *v; /* N_VALUE: NULL when the placeholder was not defined */
    dx_str name;       /* N_FUNC: name as written */
};

struct dx_cond {
    node *root;
};

enum act_kind { A_SET, A_REMOVE, A_ADD, A_DELETE };

typedef struct action {
    uint32_t kind; /* act_kind */
    path p;
    node *val;     /* SET: the value expression; ADD, DELETE: an N_VALUE */
} action;

/* One element of a document path in a trie of paths; leaf = one action or projected path. */
typedef struct tnode tnode;
struct tnode {
    pelem key;
    tnode *child, *next; /* first child; next sibling (index children in ascending order) */
    uint32_t nchild;
    int32_t leaf;        /* action / path index, -1 for inner nodes */
};

struct dx_update_expr {
    action *acts;
    uint32_t n;
    tnode root;
};

struct dx_projection {
    path *paths;
    uint32_t n;
    tnode root;
};

/* ================================================================ parser state */

/* Error classes, first message of each kept; reported by the grammar's priority. */
enum slot {
    S_PARENS,
    S_UNKNOWN_FN,
    S_MISUSED,
    S_RESERVED,
    S_COND,
    S_NAMEVAL, /* condition & projection: undefined #name or :value */
    S_NAME,    /* update: undefined #name */
    S_VAL,     /* update: undefined :value */
    S_OPERAND,
    S_DISTINCT,
    S_FUNCTION,
    S_SECTION,
    S_OVERLAP,
    S_CONFLICT,
    S__COUNT
};

typedef struct parser {
    dx_arena *a;
    dx_expr_env *env;
    dx_result *r;
    const char *what;
    const char *s;
    size_t n;
    int mode;
    tok cur, prev;
    bool have_prev;
    int depth;
    dx_err err; /* set once: syntax error or out of memory; parsing stops */
    const char *slot[S__COUNT];
} parser;

static void advance(parser *p) {
    p->prev = p->cur;
    p->have_prev = true;
    p->cur = lex(p->s, p->n, (size_t)p->cur.off + p->cur.len);
}

static tok peek2(const parser *p) { return lex(p->s, p->n, (size_t)p->cur.off + p->cur.len); }

static int kw_of(const parser *p, tok t) {
    if (t.kind != T_IDENT) return KW_NONE;
    int lo = p->mode == M_COND ? KW_BETWEEN : p->mode == M_UPDATE ? KW_SET : 1;
    int hi = p->mode == M_COND ? KW_NOT : p->mode == M_UPDATE ? KW_DELETE : 0;
    for (int k = lo; k <= hi; k++)
        if (ieq(p->s + t.off, t.len, kw_text[k])) return k;
    return KW_NONE;
}

static bool at(const parser *p, uint32_t kind) { return p->cur.kind == kind; }
static bool at_kw(const parser *p, int kw) { return kw_of(p, p->cur) == kw; }

static void *nomem(parser *p) {
    if (!p->err) p->err = dx_fail(p->r, DX_ERR_NOMEM, p->what, "out of memory parsing %s", p->what);
    return NULL;
}

static void *syntax_error(parser *p) {
    if (p->err) return NULL;
    tok t = p->cur;
    size_t from = p->have_prev ? p->prev.off : t.off, to;
    if (t.kind == T_EOF) {
        to = p->have_prev ? (size_t)p->prev.off + p->prev.len : from;
    } else {
        tok nx = lex(p->s, p->n, (size_t)t.off + t.len);
        to = nx.kind == T_EOF ? (size_t)t.off + t.len : (size_t)nx.off + nx.len;
    }
    const char *ts = t.kind == T_EOF ? "<EOF>" : p->s + t.off;
    int tn = t.kind == T_EOF ? 5 : (int)t.len;
    p->err = dx_fail(p->r, DX_ERR_VALIDATION, p->what, "Invalid %s: Syntax error; token: \"%.*s\", near: \"%.*s\"",
                     p->what, tn, ts, (int)(to - from), p->s + from);
    if (p->r) p->r->offset = (long)t.off;
    return NULL;
}

/* A hard error other than syntax (limits). */
static void *limit_error(parser *p, const char *fmt, ...) DX_PRINTF(2, 3);
static void *limit_error(parser *p, const char *fmt, ...) {
    if (p->err) return NULL;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->err = dx_fail(p->r, DX_ERR_VALIDATION, p->what, "Invalid %s: %s", p->what, msg);
    if (p->r) p->r->offset = (long)p->cur.off;
    return NULL;
}

static void slot_set(parser *p, int k, bool overwrite, const char *fmt, ...) DX_PRINTF(4, 5);
static void slot_set(parser *p, int k, bool overwrite, const char *fmt, ...) {
    if (p->slot[k] && !overwrite) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *m = dx_arena_strdup(p->a, msg);
    if (!m) {
        nomem(p);
        return;
    }
    p->slot[k] = m;
}

/* Reports the highest-ranking recorded error, if any. */
static dx_err finish_slots(parser *p, const int *order, size_t n) {
    if (p->err) return p->err;
    for (size_t i = 0; i < n; i++)
        if (p->slot[order[i]])
            return p->err = dx_fail(p->r, DX_ERR_VALIDATION, p->what, "Invalid %s: %s", p->what, p->slot[order[i]]);
    return DX_OK;
}

static node *new_node(parser *p, int kind) {
    node *x = dx_arena_calloc(p->a, sizeof *x);
    if (!x) return nomem(p);
    x->kind = (uint8_t)kind;
    return x;
}

/* A growable array of node pointers in the arena. */
typedef struct nvec {
    node **v;
    uint32_t n, cap;
} nvec;

static bool nvec_push(parser *p, nvec *v, node *x) {
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 4;
        node **nv = dx_arena_alloc(p->a, cap * sizeof *nv);
        if (!nv) return nomem(p), false;
        if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return true;
}

/* ---------------------------------------------------------------- placeholders */

static int find_member(const dx_value *m, const char *s, size_t n) {
    if (!m || m->type != DX_T_M) return -1;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->u.members[i].name_len == n && memcmp(m->u.members[i].name, s, n) == 0) return (int)i;
    return -1;
}

static const dx_value *resolve_name(parser *p, const char *s, size_t n) {
    int slot = p->mode == M_UPDATE ? S_NAME : S_NAMEVAL;
    if (p->slot[slot]) return NULL;
    int i = p->env ? find_member(p->env->names, s, n) : -1;
    if (i < 0 || p->env->names->u.members[i].value.type != DX_T_S) {
        slot_set(p, slot, false,
                 "An expression attribute name used in the document path is not defined; attribute name: %.*s",
                 (int)n, s);
        return NULL;
    }
    if (p->env->name_used) p->env->name_used[i] = true;
    return &p->env->names->u.members[i].value;
}

static const dx_value *resolve_value(parser *p, const char *s, size_t n) {
    int slot = p->mode == M_UPDATE ? S_VAL : S_NAMEVAL;
    if (p->slot[slot]) return NULL;
    int i = p->env ? find_member(p->env->values, s, n) : -1;
    if (i < 0) {
        slot_set(p, slot, false,
                 "An expression attribute value used in expression is not defined; attribute value: %.*s",
                 (int)n, s);
        return NULL;
    }
    if (p->env->value_used) p->env->value_used[i] = true;
    return &p->env->values->u.members[i].value;
}

/* ---------------------------------------------------------------- paths */

static void check_reserved(parser *p, const char *s, size_t n) {
    if (!p->slot[S_RESERVED] && is_reserved(s, n))
        slot_set(p, S_RESERVED, false, "Attribute name is a reserved keyword; reserved keyword: %.*s", (int)n, s);
}

/* One name element (identifier or #placeholder) at the current token. */
static bool path_name(parser *p, pelem *e) {
    tok t = p->cur;
    const char *s = p->s + t.off;
    memset(e, 0, sizeof *e);
    if (t.kind == T_IDENT && !kw_of(p, t)) {
        check_reserved(p, s, t.len);
        e->kind = E_NAME;
        e->len = t.len;
        e->s = dx_arena_strndup(p->a, s, t.len);
        if (!e->s) return nomem(p), false;
    } else if (t.kind == T_NAME) {
        const dx_value *v = resolve_name(p, s, t.len);
        if (v && v->type == DX_T_S) {
            e->kind = E_NAME;
            e->len = v->n;
            e->s = dx_arena_strndup(p->a, v->u.s, v->n);
            if (!e->s) return nomem(p), false;
        } else {
            e->kind = E_UNRESOLVED;
        }
    } else {
        syntax_error(p);
        return false;
    }
    advance(p);
    return !p->err;
}

static bool parse_path_into(parser *p, path *out) {
    pelem buf[MAX_PATH];
    uint32_t n = 0;
    if (!path_name(p, &buf[n++])) return false;
    for (;;) {
        if (at(p, T_LB)) {
            advance(p);
            if (!at(p, T_NUMBER)) return syntax_error(p), false;
            uint64_t idx = 0;
            for (uint32_t i = 0; i < p->cur.len; i++) {
                idx = idx * 10 + (uint64_t)(p->s[p->cur.off + i] - '0');
                if (idx > UINT32_MAX) idx = UINT32_MAX; /* far past any list's end either way */
            }
            advance(p);
            if (!at(p, T_RB)) return syntax_error(p), false;
            advance(p);
            if (n == MAX_PATH) return limit_error(p, "The document path has too many nesting levels; maximum: %d", MAX_PATH), false;
            memset(&buf[n], 0, sizeof buf[n]);
            buf[n].kind = E_INDEX;
            buf[n].idx = (uint32_t)idx;
            n++;
        } else if (at(p, T_DOT)) {
            advance(p);
            if (n == MAX_PATH) return limit_error(p, "The document path has too many nesting levels; maximum: %d", MAX_PATH), false;
            if (!path_name(p, &buf[n++])) return false;
        } else {
            break;
        }
    }
    out->e = dx_arena_alloc(p->a, n * sizeof *out->e);
    if (!out->e) return nomem(p), false;
    memcpy(out->e, buf, n * sizeof *out->e);
    out->n = n;
    return true;
}

static node *parse_path_node(parser *p) {
    node *x = new_node(p, N_PATH);
    if (!x || !parse_path_into(p, &x->p)) return NULL;
    return x;
}

static bool elem_eq(const pelem *a, const pelem *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == E_INDEX) return a->idx == b->idx;
    if (a->kind == E_UNRESOLVED) return true;
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* "[a, b, [0]]", as dynalite prints paths in messages. */
static void path_str(const path *pa, char *out, size_t cap) {
    size_t o = 0;
    int w = snprintf(out, cap, "[");
    o = w > 0 ? (size_t)w : 0;
    for (uint32_t i = 0; i < pa->n && o < cap; i++) {
        const pelem *e = &pa->e[i];
        const char *sep = i ? ", " : "";
        if (e->kind == E_INDEX)
            w = snprintf(out + o, cap - o, "%s[%u]", sep, e->idx);
        else if (e->kind == E_NAME)
            w = snprintf(out + o, cap - o, "%s%.*s", sep, (int)e->len, e->s);
        else
            w = snprintf(out + o, cap - o, "%sundefined", sep);
        if (w > 0) o += (size_t)w;
    }
    if (o < cap) snprintf(out + o, cap - o, "]");
}

/* ---------------------------------------------------------------- functions */

typedef struct fn_def {
    const char *name;
    uint8_t id, nargs, mode;
} fn_def;

static const fn_def fns[] = {
    {"attribute_exists", F_ATTR_EXISTS, 1, M_COND}, {"attribute_not_exists", F_ATTR_NOT_EXISTS, 1, M_COND},
    {"attribute_type", F_ATTR_TYPE, 2, M_COND},     {"begins_with", F_BEGINS_WITH, 2, M_COND},
    {"contains", F_CONTAINS, 2, M_COND},            {"size", F_SIZE, 1, M_COND},
    {"if_not_exists", F_IF_NOT_EXISTS, 2, M_UPDATE}, {"list_append", F_LIST_APPEND, 2, M_UPDATE},
};

static const fn_def *fn_lookup(int mode, dx_str name) {
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i].mode == mode && strlen(fns[i].name) == name.len && memcmp(fns[i].name, name.ptr, name.len) == 0)
            return &fns[i];
    return NULL;
}

/* The type an operand is known to have at parse time (value or function result). */
static int get_type(const node *x) {
    if (x->kind == N_VALUE && x->v) return (int)x->v->type;
    if (x->kind == N_FUNC) return x->attr_type;
    return DX_T_NONE;
}

/* Only a literal value's type. */
static int imm_type(const node *x) { return x->kind == N_VALUE && x->v ? (int)x->v->type : DX_T_NONE; }

static void check_misused_function(parser *p, node **args, uint32_t n) {
    if (p->slot[S_MISUSED]) return;
    for (uint32_t i = 0; i < n; i++) {
        if (args[i]->kind == N_FUNC && args[i]->op != F_SIZE) {
            slot_set(p, S_MISUSED, false,
                     "The function is not allowed to be used this way in an expression; function: %.*s",
                     (int)args[i]->name.len, args[i]->name.ptr);
            return;
        }
    }
}

static void check_misused_size(parser *p, const node *x) {
    if (x->kind == N_FUNC && x->op == F_SIZE)
        slot_set(p, S_MISUSED, false, "The function is not allowed to be used this way in an expression; function: size");
}

static void check_distinct(parser *p, const char *op, node **args, uint32_t n) {
    if (p->slot[S_DISTINCT] || n != 2 || args[0]->kind != N_PATH || args[1]->kind != N_PATH) return;
    const path *a = &args[0]->p, *b = &args[1]->p;
    if (a->n != b->n) return;
    for (uint32_t i = 0; i < a->n; i++)
        if (!elem_eq(&a->e[i], &b->e[i])) return;
    char ps[256];
    path_str(a, ps, sizeof ps);
    slot_set(p, S_DISTINCT, false,
             "The first operand must be distinct from the remaining operands for this operator or function; "
             "operator: %s, first operand: %s",
             op, ps);
}

static const char valid_types_msg[] = "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}";

/* dynalite's checkFunction for conditions; sets f->attr_type. */
static void check_function_cond(parser *p, node *f) {
    f->attr_type = DX_T_NONE;
    if (p->slot[S_UNKNOWN_FN]) return;
    const fn_def *d = fn_lookup(M_COND, f->name);
    int fname_len = (int)f->name.len;
    const char *fname = f->name.ptr;
    if (!d) {
        slot_set(p, S_UNKNOWN_FN, false, "Invalid function name; function: %.*s", fname_len, fname);
        return;
    }
    if (p->slot[S_OPERAND]) return;
    if (d->nargs != f->nargs) {
        slot_set(p, S_OPERAND, false,
                 "Incorrect number of operands for operator or function; operator or function: %.*s, "
                 "number of operands: %u",
                 fname_len, fname, f->nargs);
        return;
    }
    check_distinct(p, d->name, f->args, f->nargs);
    if (p->slot[S_FUNCTION]) return;
    switch (d->id) {
    case F_ATTR_EXISTS:
    case F_ATTR_NOT_EXISTS:
        if (f->args[0]->kind != N_PATH)
            slot_set(p, S_FUNCTION, false,
                     "Operator or function requires a document path; operator or function: %s", d->name);
        return;
    case F_BEGINS_WITH:
        for (uint32_t i = 0; i < f->nargs; i++) {
            int t = get_type(f->args[i]);
            if (t != DX_T_NONE && t != DX_T_S && t != DX_T_B) {
                slot_set(p, S_FUNCTION, false,
                         "Incorrect operand type for operator or function; operator or function: %s, "
                         "operand type: %s",
                         d->name, dx_type_name((dx_type)t));
                return;
            }
        }
        f->attr_type = DX_T_BOOL;
        return;
    case F_ATTR_TYPE: {
        int t = get_type(f->args[1]);
        if (t != DX_T_S) {
            slot_set(p, S_FUNCTION, false,
                     "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
                     d->name, t == DX_T_NONE ? valid_types_msg : dx_type_name((dx_type)t));
            return;
        }
        const dx_value *v = f->args[1]->v;
        if (dx_type_from_name(v->u.s, v->n) == DX_T_NONE) {
            slot_set(p, S_FUNCTION, false,
                     "Invalid attribute type name found; type: %.*s, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                     (int)v->n, v->u.s);
            return;
        }
        f->attr_type = DX_T_BOOL;
        return;
    }
    case F_SIZE: {
        int t = get_type(f->args[0]);
        if (t == DX_T_N || t == DX_T_BOOL || t == DX_T_NULL) {
            slot_set(p, S_FUNCTION, false,
                     "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
                     d->name, dx_type_name((dx_type)t));
            return;
        }
        f->attr_type = DX_T_N;
        return;
    }
    case F_CONTAINS:
        f->attr_type = DX_T_BOOL;
        return;
    default:
        return;
    }
}

/* dynalite's checkFunction for updates: if_not_exists, list_append, + and -. */
static void check_function_update(parser *p, node *f, const char *name, int nlen) {
    if (p->slot[S_UNKNOWN_FN]) return;
    int id;
    if (f->kind == N_PLUS || f->kind == N_MINUS) {
        id = -1;
    } else {
        const fn_def *d = fn_lookup(M_UPDATE, f->name);
        if (!d) {
            slot_set(p, S_UNKNOWN_FN, false, "Invalid function name; function: %.*s", nlen, name);
            return;
        }
        id = d->id;
    }
    if (p->slot[S_FUNCTION]) return;
    if (f->nargs != 2) {
        slot_set(p, S_FUNCTION, false,
                 "Incorrect number of operands for operator or function; operator or function: %.*s, "
                 "number of operands: %u",
                 nlen, name, f->nargs);
        return;
    }
    if (id == F_IF_NOT_EXISTS) {
        if (f->args[0]->kind != N_PATH)
            slot_set(p, S_FUNCTION, false,
                     "Operator or function requires a document path; operator or function: if_not_exists");
        return;
    }
    int want = id == F_LIST_APPEND ? DX_T_L : DX_T_N;
    for (uint32_t i = 0; i < f->nargs; i++) {
        int t = imm_type(f->args[i]);
        if (t != DX_T_NONE && t != want) {
            slot_set(p, S_FUNCTION, false,
                     "Incorrect operand type for operator or function; operator or function: %.*s, operand type: %s",
                     nlen, name, dx_type_name((dx_type)t));
            return;
        }
    }
}

/* ================================================================ condition grammar */

static node *parse_or(parser *p);

static bool is_cond(const node *x) {
    return x->kind == N_FUNC || x->kind == N_CMP || x->kind == N_BETWEEN || x->kind == N_IN || x->kind == N_AND ||
           x->kind == N_OR || x->kind == N_NOT;
}
static bool is_operand(const node *x) { return x->kind == N_PATH || x->kind == N_VALUE || x->kind == N_FUNC; }

static void check_condition_errors(parser *p) {
    static const int order[] = {S_NAMEVAL, S_OPERAND, S_DISTINCT, S_FUNCTION};
    if (p->slot[S_COND]) return;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (p->slot[order[i]]) {
            p->slot[S_COND] = p->slot[order[i]];
            return;
        }
    }
}

static node *parse_value_node(parser *p) {
    node *x = new_node(p, N_VALUE);
    if (!x) return NULL;
    x->v = resolve_value(p, p->s + p->cur.off, p->cur.len);
    advance(p);
    return x;
}

static node *parse_operand(parser *p);
static node *parse_term(parser *p);

/* name '(' operand {',' operand} ')' - the caller saw IDENT followed by '('. */
static node *parse_function(parser *p) {
    node *f = new_node(p, N_FUNC);
    if (!f) return NULL;
    f->name.ptr = p->s + p->cur.off;
    f->name.len = p->cur.len;
    const fn_def *d = fn_lookup(p->mode, f->name);
    f->op = d ? d->id : F_UNKNOWN;
    advance(p); /* name */
    advance(p); /* ( */
    if (++p->depth > MAX_DEPTH) return limit_error(p, "The expression is nested too deeply; maximum depth: %d", MAX_DEPTH);
    nvec args = {0};
    for (;;) {
        node *x = p->mode == M_COND ? parse_operand(p) : parse_term(p);
        if (!x) return NULL;
        if (!is_operand(x)) return syntax_error(p);
        if (!nvec_push(p, &args, x)) return NULL;
        if (!at(p, T_COMMA)) break;
        advance(p);
    }
    if (!at(p, T_RP)) return syntax_error(p);
    advance(p);
    p->depth--;
    f->args = args.v;
    f->nargs = args.n;
    if (p->mode == M_COND) {
        check_misused_function(p, f->args, f->nargs);
        check_function_cond(p, f);
    } else {
        check_function_update(p, f, f->name.ptr, (int)f->name.len);
    }
    return p->err ? NULL : f;
}

static bool starts_function(const parser *p) {
    return at(p, T_IDENT) && !kw_of(p, p->cur) && peek2(p).kind == T_LP;
}

/* function | :value | path */
static node *parse_atom(parser *p) {
    if (p->err) return NULL;
    if (at(p, T_VALUE)) return parse_value_node(p);
    if (starts_function(p)) return parse_function(p);
    if ((at(p, T_IDENT) && !kw_of(p, p->cur)) || at(p, T_NAME)) return parse_path_node(p);
    return syntax_error(p);
}

/*
 * '(' inner ')' with the depth bound and dynalite's redundant-parentheses
 * check; inner is an or-expression where a condition may start, an operand
 * where only an operand may stand.
 */
static node *parse_parens(parser *p, node *(*inner)(parser *)) {
    if (++p->depth > MAX_DEPTH) return limit_error(p, "The expression is nested too deeply; maximum depth: %d", MAX_DEPTH);
    advance(p);
    node *x = inner(p);
    if (!x) return NULL;
    if (!at(p, T_RP)) return syntax_error(p);
    advance(p);
    p->depth--;
    if (x->parens) slot_set(p, S_PARENS, false, "The expression has redundant parentheses;");
    x->parens = true;
    return x;
}

/* Where only an operand may stand (right of a comparator, BETWEEN bounds, IN lists, arguments). */
static node *parse_operand(parser *p) {
    if (p->err) return NULL;
    if (at(p, T_LP)) return parse_parens(p, parse_operand);
    return parse_atom(p);
}

/* Where a condition or its left operand starts: '(' or-expression ')' | atom. */
static node *parse_primary(parser *p) {
    if (p->err) return NULL;
    if (at(p, T_LP)) return parse_parens(p, parse_or);
    return parse_atom(p);
}

static int comparator(const parser *p) {
    switch (p->cur.kind) {
    case T_EQ: return C_EQ;
    case T_NE: return C_NE;
    case T_LT: return C_LT;
    case T_LE: return C_LE;
    case T_GT: return C_GT;
    case T_GE: return C_GE;
    default: return -1;
    }
}

static node *operand_or_fail(parser *p, node *x) {
    if (!x) return NULL;
    if (!is_operand(x)) return syntax_error(p);
    return x;
}

static node *make_node(parser *p, int kind, int op, node **args, uint32_t n) {
    node *x = new_node(p, kind);
    if (!x) return NULL;
    x->op = (uint8_t)op;
    x->args = dx_arena_alloc(p->a, (n ? n : 1) * sizeof *x->args);
    if (!x->args) return nomem(p);
    memcpy(x->args, args, n * sizeof *args);
    x->nargs = n;
    return x;
}

/* The value text of a BETWEEN bound for messages: {N:5}. */
static void value_str(const dx_value *v, char *out, size_t cap) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    switch ((dx_type)v->type) {
    case DX_T_S:
    case DX_T_N:
        snprintf(out, cap, "%.*s", (int)(v->n < 200 ? v->n : 200), v->u.s);
        return;
    case DX_T_B: {
        size_t o = 0;
        const unsigned char *s = (const unsigned char *)v->u.s;
        for (size_t i = 0; i < v->n && o + 5 < cap; i += 3) {
            uint32_t w = (uint32_t)s[i] << 16 | (i + 1 < v->n ? (uint32_t)s[i + 1] << 8 : 0) |
                         (i + 2 < v->n ? s[i + 2] : 0);
            out[o++] = b64[w >> 18];
            out[o++] = b64[(w >> 12) & 63];
            out[o++] = i + 1 < v->n ? b64[(w >> 6) & 63] : '=';
            out[o++] = i + 2 < v->n ? b64[w & 63] : '=';
        }
        out[o] = 0;
        return;
    }
    case DX_T_BOOL:
        snprintf(out, cap, "%s", v->n ? "true" : "false");
        return;
    case DX_T_NULL:
        snprintf(out, cap, "true");
        return;
    default:
        snprintf(out, cap, "[...]");
        return;
    }
}

static bool scalar_type(int t) { return t == DX_T_S || t == DX_T_N || t == DX_T_B; }

static void check_between_args(parser *p, const node *lo, const node *hi) {
    if (p->slot[S_FUNCTION]) return;
    int t1 = imm_type(lo), t2 = imm_type(hi);
    if (t1 == DX_T_NONE || t2 == DX_T_NONE) return;
    const char *why = NULL;
    if (t1 != t2)
        why = "The BETWEEN operator requires same data type for lower and upper bounds";
    else if (scalar_type(t1) && dx_value_cmp(lo->v, hi->v) > 0)
        why = "The BETWEEN operator requires upper bound to be greater than or equal to lower bound";
    if (!why) return;
    char a[300], b[300];
    value_str(lo->v, a, sizeof a);
    value_str(hi->v, b, sizeof b);
    slot_set(p, S_FUNCTION, false,
             "%s; lower bound operand: AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}", why,
             dx_type_name((dx_type)t1), a, dx_type_name((dx_type)t2), b);
}

/* primary [comparator primary | BETWEEN primary AND primary | IN '(' primary {, primary} ')'] */
static node *parse_cmp(parser *p) {
    node *x = parse_primary(p);
    if (!x) return NULL;
    int c = comparator(p);
    if (c >= 0) {
        if (!is_operand(x)) return syntax_error(p);
        advance(p);
        node *args[2] = {x, parse_operand(p)};
        if (!args[1]) return NULL;
        node *n = make_node(p, N_CMP, c, args, 2);
        if (!n) return NULL;
        check_misused_function(p, args, 2);
        check_distinct(p, cmp_text[c], args, 2);
        check_condition_errors(p);
        return p->err ? NULL : n;
    }
    if (at_kw(p, KW_BETWEEN)) {
        if (!is_operand(x)) return syntax_error(p);
        advance(p);
        node *args[3] = {x, parse_operand(p), NULL};
        if (!args[1]) return NULL;
        if (!at_kw(p, KW_AND)) return syntax_error(p);
        advance(p);
        if (!(args[2] = parse_operand(p))) return NULL;
        node *n = make_node(p, N_BETWEEN, 0, args, 3);
        if (!n) return NULL;
        check_misused_function(p, args, 3);
        check_between_args(p, args[1], args[2]);
        check_condition_errors(p);
        return p->err ? NULL : n;
    }
    if (at_kw(p, KW_IN)) {
        if (!is_operand(x)) return syntax_error(p);
        advance(p);
        if (!at(p, T_LP)) return syntax_error(p);
        advance(p);
        if (++p->depth > MAX_DEPTH) return limit_error(p, "The expression is nested too deeply; maximum depth: %d", MAX_DEPTH);
        nvec args = {0};
        if (!nvec_push(p, &args, x)) return NULL;
        for (;;) {
            node *y = parse_operand(p);
            if (!y || !nvec_push(p, &args, y)) return NULL;
            if (!at(p, T_COMMA)) break;
            advance(p);
        }
        if (!at(p, T_RP)) return syntax_error(p);
        advance(p);
        p->depth--;
        node *n = new_node(p, N_IN);
        if (!n) return NULL;
        n->args = args.v;
        n->nargs = args.n;
        check_misused_function(p, n->args, n->nargs);
        if (n->nargs - 1 > MAX_IN)
            slot_set(p, S_OPERAND, false,
                     "The IN operator is provided with too many operands; number of operands: %u", n->nargs - 1);
        check_condition_errors(p);
        return p->err ? NULL : n;
    }
    if (x->kind == N_FUNC && !x->parens) check_condition_errors(p);
    return x;
}

static node *parse_not(parser *p) {
    if (!at_kw(p, KW_NOT)) return parse_cmp(p);
    advance(p);
    node *x = parse_cmp(p);
    if (!x) return NULL;
    if (!is_cond(x)) return syntax_error(p);
    check_misused_size(p, x);
    return make_node(p, N_NOT, 0, &x, 1);
}

/* One level of AND or OR, n-ary so that long chains do not deepen the tree. */
static node *parse_chain(parser *p, int kw, int kind, node *(*sub)(parser *)) {
    node *x = sub(p);
    if (!x) return NULL;
    if (!at_kw(p, kw)) return x;
    if (!is_cond(x)) return syntax_error(p);
    nvec v = {0};
    if (!nvec_push(p, &v, x)) return NULL;
    while (at_kw(p, kw)) {
        advance(p);
        node *y = sub(p);
        if (!y) return NULL;
        if (!is_cond(y)) return syntax_error(p);
        if (!nvec_push(p, &v, y)) return NULL;
    }
    for (uint32_t i = 0; i < v.n; i++) check_misused_size(p, v.v[i]);
    node *n = new_node(p, kind);
    if (!n) return NULL;
    n->args = v.v;
    n->nargs = v.n;
    return n;
}

static node *parse_and(parser *p) { return parse_chain(p, KW_AND, N_AND, parse_not); }
static node *parse_or(parser *p) { return parse_chain(p, KW_OR, N_OR, parse_and); }

static void parser_init(parser *p, dx_arena *a, dx_expr_env *env, const char *what, const char *text, int mode,
                        dx_result *r) {
    memset(p, 0, sizeof *p);
    p->a = a;
    p->env = env;
    p->r = r;
    p->what = what;
    p->s = text;
    p->n = strlen(text);
    p->mode = mode;
    p->cur = lex(p->s, p->n, 0);
}

static dx_err empty_error(dx_result *r, const char *what) {
    return dx_fail(r, DX_ERR_VALIDATION, what, "Invalid %s: The expression can not be empty;", what);
}

static dx_err cond_parse(dx_arena *a, dx_expr_env *env, const char *what, const char *text, node **out,
                         dx_result *r) {
    static const int order[] = {S_PARENS, S_UNKNOWN_FN, S_MISUSED, S_RESERVED, S_COND};
    if (!text[0]) return empty_error(r, what);
    parser p;
    parser_init(&p, a, env, what, text, M_COND, r);
    node *x = parse_or(&p);
    if (x && !at(&p, T_EOF)) syntax_error(&p);
    if (x && !p.err && !is_cond(x)) syntax_error(&p);
    if (x && !p.err) check_misused_size(&p, x);
    dx_err e = finish_slots(&p, order, sizeof order / sizeof order[0]);
    if (e) return e;
    *out = x;
    return DX_OK;
}

dx_err dx_cond_parse(dx_arena *a, dx_expr_env *env, const char *what, const char *text, dx_cond **out,
                     dx_result *r) {
    if (!what) what = "ConditionExpression";
    if (!a || !text || !out) return dx_fail(r, DX_ERR_INVALID_ARG, what, "dx_cond_parse: NULL argument");
    *out = NULL;
    node *root;
    dx_err e = cond_parse(a, env, what, text, &root, r);
    if (e) return e;
    dx_cond *c = dx_arena_alloc(a, sizeof *c);
    if (!c) return dx_fail(r, DX_ERR_NOMEM, what, "out of memory parsing %s", what);
    c->root = root;
    *out = c;
    return DX_OK;
}

/* ================================================================ evaluation */

/* The value at path pa in item (an M), or NULL. Never allocates. */
static const dx_value *map_path(const dx_value *item, const path *pa) {
    const dx_value *cur = item;
    for (uint32_t i = 0; cur && i < pa->n; i++) {
        const pelem *e = &pa->e[i];
        if (e->kind == E_INDEX) {
            cur = (cur->type == DX_T_L && e->idx < cur->n) ? &cur->u.elems[e->idx] : NULL;
        } else if (e->kind == E_NAME && cur->type == DX_T_M) {
            cur = dx_map_getn(cur, e->s, e->len);
        } else {
            cur = NULL;
        }
    }
    return cur;
}

/* An evaluated operand. size() writes its number into buf, so an opv is never copied. */
typedef struct opv {
    const dx_value *v; /* NULL: absent */
    dx_value tmp;
    char buf[16];
} opv;

static void eval_operand(const node *x, const dx_value *item, opv *o) {
    o->v = NULL;
    switch (x->kind) {
    case N_PATH: o->v = map_path(item, &x->p); return;
    case N_VALUE: o->v = x->v; return;
    case N_FUNC: {
        if (x->op != F_SIZE) return;
        const node *arg = x->args[0];
        const dx_value *v = arg->kind == N_PATH ? map_path(item, &arg->p) : arg->kind == N_VALUE ? arg->v : NULL;
        if (!v) return;
        switch ((dx_type)v->type) {
        case DX_T_S: case DX_T_B: case DX_T_L: case DX_T_M: case DX_T_SS: case DX_T_NS: case DX_T_BS: break;
        default: return; /* N, BOOL, NULL have no size */
        }
        int len = snprintf(o->buf, sizeof o->buf, "%u", v->n);
        o->tmp = dx_vsn(o->buf, (size_t)len);
        o->tmp.type = DX_T_N;
        o->v = &o->tmp;
        return;
    }
    default: return;
    }
}

static bool same_type(const dx_value *a, const dx_value *b) { return a && b && a->type == b->type; }

static bool has_prefix(const dx_value *a, const dx_value *b) {
    return a->n >= b->n && (b->n == 0 || memcmp(a->u.s, b->u.s, b->n) == 0);
}

static bool has_substring(const dx_value *a, const dx_value *b) {
    if (b->n == 0) return true;
    if (a->n < b->n) return false;
    return memmem(a->u.s, a->n, b->u.s, b->n) != NULL;
}

static bool eval_contains(const dx_value *a, const dx_value *b) {
    if (!a || !b) return false;
    switch ((dx_type)a->type) {
    case DX_T_S:
    case DX_T_B:
        return b->type == a->type && has_substring(a, b);
    case DX_T_SS:
    case DX_T_NS:
    case DX_T_BS:
        if (b->type != (a->type == DX_T_SS ? DX_T_S : a->type == DX_T_NS ? DX_T_N : DX_T_B)) return false;
        /* fall through */
    case DX_T_L:
        for (uint32_t i = 0; i < a->n; i++)
            if (dx_value_equal(&a->u.elems[i], b)) return true;
        return false;
    default:
        return false;
    }
}

static bool compare(int op, const dx_value *a, const dx_value *b) {
    switch (op) {
    case C_EQ: return same_type(a, b) && dx_value_equal(a, b);
    case C_NE: return !((!a && !b) || (same_type(a, b) && dx_value_equal(a, b)));
    default: break;
    }
    if (!same_type(a, b) || !scalar_type((int)a->type)) return false;
    int c = dx_value_cmp(a, b);
    switch (op) {
    case C_LT: return c < 0;
    case C_LE: return c <= 0;
    case C_GT: return c > 0;
    case C_GE: return c >= 0;
    default: return false;
    }
}

static bool eval_node(const node *x, const dx_value *item) {
    switch (x->kind) {
    case N_AND:
        for (uint32_t i = 0; i < x->nargs; i++)
            if (!eval_node(x->args[i], item)) return false;
        return true;
    case N_OR:
        for (uint32_t i = 0; i < x->nargs; i++)
            if (eval_node(x->args[i], item)) return true;
        return false;
    case N_NOT:
        return !eval_node(x->args[0], item);
    case N_CMP: {
        opv a, b;
        eval_operand(x->args[0], item, &a);
        eval_operand(x->args[1], item, &b);
        return compare(x->op, a.v, b.v);
    }
    case N_BETWEEN: {
        opv v, lo, hi;
        eval_operand(x->args[0], item, &v);
        eval_operand(x->args[1], item, &lo);
        eval_operand(x->args[2], item, &hi);
        return compare(C_GE, v.v, lo.v) && compare(C_LE, v.v, hi.v);
    }
    case N_IN: {
        opv v;
        eval_operand(x->args[0], item, &v);
        if (!v.v) return false;
        for (uint32_t i = 1; i < x->nargs; i++) {
            opv c;
            eval_operand(x->args[i], item, &c);
            if (same_type(v.v, c.v) && dx_value_equal(v.v, c.v)) return true;
        }
        return false;
    }
    case N_FUNC: {
        opv a, b;
        switch (x->op) {
        case F_ATTR_EXISTS: return map_path(item, &x->args[0]->p) != NULL;
        case F_ATTR_NOT_EXISTS: return map_path(item, &x->args[0]->p) == NULL;
        case F_ATTR_TYPE:
            eval_operand(x->args[0], item, &a);
            eval_operand(x->args[1], item, &b);
            return a.v && b.v && b.v->type == DX_T_S && dx_type_from_name(b.v->u.s, b.v->n) == (dx_type)a.v->type;
        case F_BEGINS_WITH:
            eval_operand(x->args[0], item, &a);
            eval_operand(x->args[1], item, &b);
            return same_type(a.v, b.v) && (a.v->type == DX_T_S || a.v->type == DX_T_B) && has_prefix(a.v, b.v);
        case F_CONTAINS:
            eval_operand(x->args[0], item, &a);
            eval_operand(x->args[1], item, &b);
            return eval_contains(a.v, b.v);
        default: return false;
        }
    }
    default:
        return false;
    }
}

dx_err dx_cond_eval(const dx_cond *c, const dx_value *item, bool *out, dx_result *r) {
    if (!c || !out) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_cond_eval: NULL argument");
    if (item && item->type != DX_T_M)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_cond_eval: the item must be a map (M)");
    *out = eval_node(c->root, item);
    return DX_OK;
}

/* ---------------------------------------------------------------- references */

static unsigned path_refs(const path *pa, const char *name, size_t len) {
    if (pa->n == 0 || pa->e[0].kind != E_NAME || pa->e[0].len != len || memcmp(pa->e[0].s, name, len) != 0)
        return 0;
    return DX_EXPR_REF_TOP | (pa->n > 1 ? DX_EXPR_REF_NESTED : 0u);
}

static unsigned node_refs(const node *x, const char *name, size_t len) {
    if (x->kind == N_PATH) return path_refs(&x->p, name, len);
    unsigned f = 0;
    for (uint32_t i = 0; i < x->nargs; i++) f |= node_refs(x->args[i], name, len);
    return f;
}

unsigned dx_cond_refs(const dx_cond *c, const char *name) {
    if (!c || !name) return 0;
    return node_refs(c->root, name, strlen(name));
}

/* ================================================================ key conditions */

typedef struct kc_ent {
    const pelem *attr;
    int op; /* dx_key_op */
    const dx_value *v[2];
    uint32_t nv;
} kc_ent;

typedef struct kc_ctx {
    dx_arena *a;
    kc_ent *e;
    uint32_t n, cap;
    bool nomem;
} kc_ctx;

static const char *const key_op_name[] = {"", "EQ", "LT", "LE", "GT", "GE", "BETWEEN", "BEGINS_WITH"};

/* dynalite's convertKeyCondition/checkExpr; returns a static or arena message, NULL when fine. */
static const char *kc_check(kc_ctx *k, const node *x, int depth) {
    if (depth > MAX_DEPTH * 4) return "KeyConditionExpressions cannot contain nested operations";
    switch (x->kind) {
    case N_OR: return "Invalid operator used in KeyConditionExpression: OR";
    case N_NOT: return "Invalid operator used in KeyConditionExpression: NOT";
    case N_IN: return "Invalid operator used in KeyConditionExpression: IN";
    case N_CMP:
        if (x->op == C_NE) return "Invalid operator used in KeyConditionExpression: <>";
        break;
    case N_FUNC:
        switch (x->op) {
        case F_ATTR_EXISTS: return "Invalid operator used in KeyConditionExpression: attribute_exists";
        case F_ATTR_NOT_EXISTS: return "Invalid operator used in KeyConditionExpression: attribute_not_exists";
        case F_ATTR_TYPE: return "Invalid operator used in KeyConditionExpression: attribute_type";
        case F_CONTAINS: return "Invalid operator used in KeyConditionExpression: contains";
        case F_SIZE: return "KeyConditionExpressions cannot contain nested operations";
        case F_BEGINS_WITH:
            if (x->args[0]->kind != N_PATH)
                return "Invalid condition in KeyConditionExpression: begins_with operator must have the key "
                       "attribute as its first operand";
            break;
        default: break;
        }
        break;
    case N_BETWEEN:
        if (x->args[0]->kind != N_PATH)
            return "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as "
                   "its first operand";
        break;
    default: break;
    }
    const node *attr = NULL;
    uint32_t attr_ix = 0;
    for (uint32_t i = 0; i < x->nargs; i++) {
        const node *y = x->args[i];
        if (y->kind == N_PATH) {
            if (attr) return "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition";
            if (y->p.n > 1) return "KeyConditionExpressions cannot have conditions on nested attributes";
            attr = y;
            attr_ix = i;
        } else if (y->kind != N_VALUE) {
            const char *m = kc_check(k, y, depth + 1);
            if (m) return m;
        }
    }
    if (x->kind == N_AND) return NULL;
    if (!attr) return "Invalid condition in KeyConditionExpression: No key attribute specified";
    for (uint32_t i = 0; i < k->n; i++)
        if (elem_eq(k->e[i].attr, &attr->p.e[0])) return "KeyConditionExpressions must only contain one condition per key";
    if (k->n == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 4;
        kc_ent *ne = dx_arena_alloc(k->a, cap * sizeof *ne);
        if (!ne) {
            k->nomem = true;
            return "out of memory";
        }
        if (k->n) memcpy(ne, k->e, k->n * sizeof *ne);
        k->e = ne;
        k->cap = cap;
    }
    kc_ent *e = &k->e[k->n++];
    memset(e, 0, sizeof *e);
    e->attr = &attr->p.e[0];
    if (x->kind == N_CMP) {
        static const int direct[] = {DX_KEY_OP_EQ, 0, DX_KEY_OP_LT, DX_KEY_OP_LE, DX_KEY_OP_GT, DX_KEY_OP_GE};
        static const int swapped[] = {DX_KEY_OP_EQ, 0, DX_KEY_OP_GT, DX_KEY_OP_GE, DX_KEY_OP_LT, DX_KEY_OP_LE};
        e->op = attr_ix ? swapped[x->op] : direct[x->op];
        e->v[0] = x->args[attr_ix ? 0 : 1]->v;
        e->nv = 1;
    } else if (x->kind == N_BETWEEN) {
        e->op = DX_KEY_OP_BETWEEN;
        e->v[0] = x->args[1]->v;
        e->v[1] = x->args[2]->v;
        e->nv = 2;
    } else {
        e->op = DX_KEY_OP_BEGINS_WITH;
        e->v[0] = x->args[1]->v;
        e->nv = 1;
    }
    return NULL;
}

static bool key_type_ok(int op, int t) {
    if (op == DX_KEY_OP_EQ) return scalar_type(t) || t == DX_T_SS || t == DX_T_NS || t == DX_T_BS;
    if (op == DX_KEY_OP_BEGINS_WITH) return t == DX_T_S || t == DX_T_B;
    return scalar_type(t);
}

static const kc_ent *kc_find(const kc_ctx *k, const char *name) {
    size_t len = strlen(name);
    for (uint32_t i = 0; i < k->n; i++)
        if (k->e[i].attr->kind == E_NAME && k->e[i].attr->len == len && memcmp(k->e[i].attr->s, name, len) == 0)
            return &k->e[i];
    return NULL;
}

dx_err dx_key_cond_parse(dx_arena *a, dx_expr_env *env, const char *text, const char *hash_name,
                         const char *range_name, dx_key_cond *out, dx_result *r) {
    static const char what[] = "KeyConditionExpression";
    if (!a || !text || !hash_name || !out)
        return dx_fail(r, DX_ERR_INVALID_ARG, what, "dx_key_cond_parse: NULL argument");
    memset(out, 0, sizeof *out);
    dx_cond c;
    dx_err e = cond_parse(a, env, what, text, &c.root, r);
    if (e) return e;
    return dx_key_cond_from_cond(a, &c, hash_name, range_name, out, r);
}

dx_err dx_key_cond_from_cond(dx_arena *a, const dx_cond *c, const char *hash_name, const char *range_name,
                             dx_key_cond *out, dx_result *r) {
    static const char what[] = "KeyConditionExpression";
    if (!a || !c || !hash_name || !out)
        return dx_fail(r, DX_ERR_INVALID_ARG, what, "dx_key_cond_from_cond: NULL argument");
    memset(out, 0, sizeof *out);
    const node *root = c->root;
    kc_ctx k = {a, NULL, 0, 0, false};
    const char *m = kc_check(&k, root, 0);
    if (m) return dx_fail(r, k.nomem ? DX_ERR_NOMEM : DX_ERR_VALIDATION, what, "%s", m);
    for (uint32_t i = 0; i < k.n; i++) {
        const kc_ent *ke = &k.e[i];
        for (uint32_t j = 1; j < ke->nv; j++)
            if (ke->v[j]->type != ke->v[0]->type)
                return dx_fail(r, DX_ERR_VALIDATION, what,
                               "One or more parameter values were invalid: AttributeValues inside "
                               "AttributeValueList must be of same type");
        for (uint32_t j = 0; j < ke->nv; j++)
            if (!key_type_ok(ke->op, (int)ke->v[j]->type))
                return dx_fail(r, DX_ERR_VALIDATION, what,
                               "One or more parameter values were invalid: ComparisonOperator %s is not valid "
                               "for %s AttributeValue type",
                               key_op_name[ke->op], dx_type_name((dx_type)ke->v[j]->type));
        if (ke->op == DX_KEY_OP_BETWEEN && dx_value_cmp(ke->v[0], ke->v[1]) > 0)
            return dx_fail(r, DX_ERR_VALIDATION, what,
                           "The BETWEEN condition was provided a range where the lower bound is greater than the "
                           "upper bound");
    }
    if (k.n != 1 && k.n != 2) return dx_fail(r, DX_ERR_VALIDATION, what, "Conditions can be of length 1 or 2 only");
    /* The query action's checks, against the table's (or index's) key schema. */
    if (!range_name && k.n > 1) return dx_fail(r, DX_ERR_VALIDATION, what, "Query key condition not supported");
    const kc_ent *h = kc_find(&k, hash_name);
    if (!h) return dx_fail(r, DX_ERR_VALIDATION, what, "Query condition missed key schema element: %s", hash_name);
    if (h->op != DX_KEY_OP_EQ) return dx_fail(r, DX_ERR_VALIDATION, what, "Query key condition not supported");
    const kc_ent *rg = range_name ? kc_find(&k, range_name) : NULL;
    if (range_name && !rg && k.n > 1)
        return dx_fail(r, DX_ERR_VALIDATION, what, "Query condition missed key schema element: %s", range_name);
    out->hash = *h->v[0];
    if (rg) {
        out->range_op = (dx_key_op)rg->op;
        out->r1 = *rg->v[0];
        if (rg->nv > 1) out->r2 = *rg->v[1];
    }
    return DX_OK;
}

bool dx_key_cond_match_range(const dx_key_cond *kc, const dx_value *v) {
    if (!kc || kc->range_op == DX_KEY_OP_NONE) return true;
    if (!v || v->type != kc->r1.type) return false;
    int c = dx_value_cmp(v, &kc->r1);
    switch (kc->range_op) {
    case DX_KEY_OP_EQ: return c == 0;
    case DX_KEY_OP_LT: return c < 0;
    case DX_KEY_OP_LE: return c <= 0;
    case DX_KEY_OP_GT: return c > 0;
    case DX_KEY_OP_GE: return c >= 0;
    case DX_KEY_OP_BETWEEN: return c >= 0 && v->type == kc->r2.type && dx_value_cmp(v, &kc->r2) <= 0;
    case DX_KEY_OP_BEGINS_WITH: return (v->type == DX_T_S || v->type == DX_T_B) && has_prefix(v, &kc->r1);
    case DX_KEY_OP_NONE: return true;
    }
    return false;
}

int dx_key_cmp(const dx_value *hash_a, const dx_value *range_a, const dx_value *hash_b,
               const dx_value *range_b) {
    int c = dx_value_cmp(hash_a, hash_b);
    if (c || (!range_a && !range_b)) return c;
    if (!range_a || !range_b) return range_a ? 1 : -1;
    return dx_value_cmp(range_a, range_b);
}

/* ================================================================ path sets (update, projection) */

/* dynalite's checkPath: overlap (one path a prefix of another) and conflict (name vs index). */
static bool check_path(parser *p, const path *all, uint32_t n, const path *np) {
    if (p->slot[S_OVERLAP]) return false;
    for (uint32_t i = 0; i < n; i++) {
        const path *a = &all[i];
        uint32_t m = a->n < np->n ? a->n : np->n, j;
        bool differs = false;
        for (j = 0; j < m; j++) {
            bool ka = a->e[j].kind == E_INDEX, kb = np->e[j].kind == E_INDEX;
            bool ua = a->e[j].kind == E_UNRESOLVED, ub = np->e[j].kind == E_UNRESOLVED;
            if (ka != kb || ua != ub) {
                char s1[256], s2[256];
                path_str(a, s1, sizeof s1);
                path_str(np, s2, sizeof s2);
                slot_set(p, S_CONFLICT, true,
                         "Two document paths conflict with each other; must remove or rewrite one of these paths; "
                         "path one: %s, path two: %s",
                         s1, s2);
                differs = true;
                break;
            }
            if (!elem_eq(&a->e[j], &np->e[j])) {
                differs = true;
                break;
            }
        }
        if (differs) continue;
        char s1[256], s2[256];
        path_str(a, s1, sizeof s1);
        path_str(np, s2, sizeof s2);
        slot_set(p, S_OVERLAP, false,
                 "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                 "path one: %s, path two: %s",
                 s1, s2);
        return false;
    }
    return true;
}

/* Adds path pa (leaf id `leaf`) to the trie under root. Paths were checked: no overlap or conflict. */
static bool trie_add(dx_arena *a, tnode *root, const path *pa, int32_t leaf) {
    tnode *t = root;
    for (uint32_t i = 0; i < pa->n; i++) {
        const pelem *e = &pa->e[i];
        tnode **link = &t->child, *c = t->child;
        while (c && !elem_eq(&c->key, e)) {
            if (e->kind == E_INDEX && c->key.idx > e->idx) break; /* keep index children ascending */
            link = &c->next;
            c = c->next;
        }
        if (!c || !elem_eq(&c->key, e)) {
            tnode *nc = dx_arena_calloc(a, sizeof *nc);
            if (!nc) return false;
            nc->key = *e;
            nc->leaf = -1;
            nc->next = c;
            *link = nc;
            t->nchild++;
            c = nc;
        }
        t = c;
    }
    t->leaf = leaf;
    return true;
}

/* The part of v that the trie node t selects; false when nothing is selected. Leaves are deep-copied. */
static dx_err project(dx_arena *a, const tnode *t, const dx_value *v, dx_value *out, bool *present) {
    *present = false;
    if (!v) return DX_OK;
    if (t->leaf >= 0) {
        dx_err e = dx_value_copy(a, v, out);
        if (e) return e;
        *present = true;
        return DX_OK;
    }
    if (!t->child) return DX_OK;
    if (t->child->key.kind == E_INDEX) {
        if (v->type != DX_T_L) return DX_OK;
        dx_value *el = dx_arena_alloc(a, t->nchild * sizeof *el);
        if (!el) return DX_ERR_NOMEM;
        uint32_t n = 0;
        for (const tnode *c = t->child; c; c = c->next) {
            if (c->key.idx >= v->n) break;
            bool got;
            dx_err e = project(a, c, &v->u.elems[c->key.idx], &el[n], &got);
            if (e) return e;
            if (got) n++;
        }
        if (!n) return DX_OK;
        *out = dx_vlist(el, n);
    } else {
        if (v->type != DX_T_M) return DX_OK;
        dx_member *m = dx_arena_alloc(a, t->nchild * sizeof *m);
        if (!m) return DX_ERR_NOMEM;
        uint32_t n = 0;
        for (const tnode *c = t->child; c; c = c->next) {
            if (c->key.kind != E_NAME) continue;
            bool got;
            dx_err e = project(a, c, dx_map_getn(v, c->key.s, c->key.len), &m[n].value, &got);
            if (e) return e;
            if (got) {
                m[n].name = c->key.s;
                m[n].name_len = c->key.len;
                n++;
            }
        }
        if (!n) return DX_OK;
        *out = dx_vmap(m, n);
    }
    *present = true;
    return DX_OK;
}

static dx_err project_root(dx_arena *a, const tnode *root, const dx_value *item, dx_value *out) {
    bool got = false;
    dx_err e = DX_OK;
    if (item && item->type == DX_T_M) e = project(a, root, item, out, &got);
    if (!e && !got) *out = dx_vmap(NULL, 0);
    return e;
}

/* ================================================================ update grammar */

/* '(' set-value ')' | operand */
static node *parse_set_value(parser *p);

static node *parse_term(parser *p) {
    if (p->err) return NULL;
    if (at(p, T_LP)) {
        if (++p->depth > MAX_DEPTH) return limit_error(p, "The expression is nested too deeply; maximum depth: %d", MAX_DEPTH);
        advance(p);
        node *x = parse_set_value(p);
        if (!x) return NULL;
        if (!at(p, T_RP)) return syntax_error(p);
        advance(p);
        p->depth--;
        x->parens = true;
        return x;
    }
    if (at(p, T_VALUE)) return parse_value_node(p);
    if (starts_function(p)) return parse_function(p);
    if ((at(p, T_IDENT) && !kw_of(p, p->cur)) || at(p, T_NAME)) return parse_path_node(p);
    return syntax_error(p);
}

/* term [('+' | '-') term] */
static node *parse_set_value(parser *p) {
    node *x = parse_term(p);
    if (!x) return NULL;
    if (!at(p, T_PLUS) && !at(p, T_MINUS)) return x;
    if (!is_operand(x)) return syntax_error(p);
    bool plus = at(p, T_PLUS);
    advance(p);
    node *args[2] = {x, operand_or_fail(p, parse_term(p))};
    if (!args[1]) return NULL;
    node *n = make_node(p, plus ? N_PLUS : N_MINUS, 0, args, 2);
    if (!n) return NULL;
    check_function_update(p, n, plus ? "+" : "-", 1);
    return p->err ? NULL : n;
}

static void check_operator(parser *p, const char *op, const node *val) {
    if (p->slot[S_OPERAND] || !val->v) return;
    const char *name = NULL;
    switch ((dx_type)val->v->type) {
    case DX_T_S: name = "STRING"; break;
    case DX_T_N: name = strcmp(op, "ADD") == 0 ? NULL : "NUMBER"; break;
    case DX_T_B: name = "BINARY"; break;
    case DX_T_NULL: name = "NULL"; break;
    case DX_T_BOOL: name = "BOOLEAN"; break;
    case DX_T_L: name = "LIST"; break;
    case DX_T_M: name = "MAP"; break;
    default: break;
    }
    if (name)
        slot_set(p, S_OPERAND, false, "Incorrect operand type for operator or function; operator: %s, operand type: %s",
                 op, name);
}

typedef struct avec {
    action *v;
    uint32_t n, cap;
    path *paths; /* parallel: the paths accepted by check_path so far */
    uint32_t npaths;
} avec;

static action *avec_add(parser *p, avec *v) {
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 8;
        action *na = dx_arena_alloc(p->a, cap * sizeof *na);
        path *np = dx_arena_alloc(p->a, cap * sizeof *np);
        if (!na || !np) return nomem(p);
        if (v->n) memcpy(na, v->v, v->n * sizeof *na);
        if (v->npaths) memcpy(np, v->paths, v->npaths * sizeof *np);
        v->v = na;
        v->paths = np;
        v->cap = cap;
    }
    action *a = &v->v[v->n++];
    memset(a, 0, sizeof *a);
    return a;
}

static void add_checked_path(parser *p, avec *v, const path *pa) {
    if (check_path(p, v->paths, v->npaths, pa)) v->paths[v->npaths++] = *pa;
}

dx_err dx_update_parse(dx_arena *a, dx_expr_env *env, const char *text, dx_update_expr **out, dx_result *r) {
    static const char what[] = "UpdateExpression";
    static const int order[] = {S_RESERVED, S_UNKNOWN_FN, S_SECTION, S_NAME,     S_VAL,
                                S_OVERLAP,  S_CONFLICT,   S_OPERAND, S_FUNCTION};
    static const char *const section_name[] = {"SET", "REMOVE", "ADD", "DELETE"};
    if (!a || !text || !out) return dx_fail(r, DX_ERR_INVALID_ARG, what, "dx_update_parse: NULL argument");
    *out = NULL;
    if (!text[0]) return empty_error(r, what);
    parser p;
    parser_init(&p, a, env, what, text, M_UPDATE, r);
    avec acts = {0};
    bool seen[4] = {false, false, false, false};
    do {
        int kw = kw_of(&p, p.cur);
        if (kw < KW_SET) {
            syntax_error(&p);
            break;
        }
        int kind = kw - KW_SET; /* act_kind */
        advance(&p);
        for (;;) {
            action *ac = avec_add(&p, &acts);
            if (!ac) break;
            ac->kind = (uint32_t)kind;
            if (!parse_path_into(&p, &ac->p)) break;
            if (kind == A_SET) {
                if (!at(&p, T_EQ)) {
                    syntax_error(&p);
                    break;
                }
                advance(&p);
                if (!(ac->val = parse_set_value(&p))) break;
            } else if (kind == A_ADD || kind == A_DELETE) {
                if (!at(&p, T_VALUE)) {
                    syntax_error(&p);
                    break;
                }
                if (!(ac->val = parse_value_node(&p))) break;
            }
            add_checked_path(&p, &acts, &ac->p);
            if (kind == A_ADD || kind == A_DELETE) check_operator(&p, section_name[kind], ac->val);
            if (!at(&p, T_COMMA)) break;
            advance(&p);
        }
        if (p.err) break;
        if (!p.slot[S_SECTION]) {
            if (seen[kind])
                slot_set(&p, S_SECTION, false, "The \"%s\" section can only be used once in an update expression;",
                         section_name[kind]);
            seen[kind] = true;
        }
    } while (!p.err && !at(&p, T_EOF));
    dx_err e = finish_slots(&p, order, sizeof order / sizeof order[0]);
    if (e) return e;
    dx_update_expr *u = dx_arena_calloc(a, sizeof *u);
    if (!u) return dx_fail(r, DX_ERR_NOMEM, what, "out of memory parsing %s", what);
    u->acts = acts.v;
    u->n = acts.n;
    u->root.leaf = -1;
    for (uint32_t i = 0; i < u->n; i++)
        if (!trie_add(a, &u->root, &u->acts[i].p, (int32_t)i))
            return dx_fail(r, DX_ERR_NOMEM, what, "out of memory parsing %s", what);
    *out = u;
    return DX_OK;
}

bool dx_update_touches(const dx_update_expr *u, const char *name) {
    return dx_update_refs(u, name) != 0;
}

unsigned dx_update_refs(const dx_update_expr *u, const char *name) {
    if (!u || !name) return 0;
    size_t len = strlen(name);
    unsigned f = 0;
    for (uint32_t i = 0; i < u->n; i++) f |= path_refs(&u->acts[i].p, name, len);
    return f;
}

dx_err dx_update_project(const dx_update_expr *u, dx_arena *a, const dx_value *item, dx_value *out) {
    if (!u || !a || !out) return DX_ERR_INVALID_ARG;
    return project_root(a, &u->root, item, out);
}

/* ---------------------------------------------------------------- applying updates */

typedef struct actx {
    const dx_update_expr *u;
    dx_arena *a;
    dx_result *r;
    dx_value *setv; /* resolved value of each SET action, by action index */
} actx;

static const char msg_bad_type[] = "An operand in the update expression has an incorrect data type";
static const char msg_bad_path[] = "The document path provided in the update expression is invalid for update";

static dx_err upd_fail(actx *c, const char *msg) {
    return dx_fail(c->r, DX_ERR_VALIDATION, "UpdateExpression", "%s", msg);
}

static dx_err nomem_r(dx_result *r) { return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory applying an update"); }

static dx_err num_of(actx *c, const dx_value *v, dx_num *x) {
    return dx_num_parse(v->u.s, v->n, x, c->r);
}

/* dynalite's resolveValue: evaluates a SET operand against the old item. */
static dx_err resolve_set(actx *c, const node *x, const dx_value *item, dx_value *out) {
    switch (x->kind) {
    case N_PATH: {
        const dx_value *v = map_path(item, &x->p);
        if (!v) return upd_fail(c, "The provided expression refers to an attribute that does not exist in the item");
        *out = *v;
        return DX_OK;
    }
    case N_VALUE:
        *out = *x->v;
        return DX_OK;
    case N_PLUS:
    case N_MINUS: {
        dx_value a, b;
        dx_num na, nb, res;
        dx_err e = resolve_set(c, x->args[0], item, &a);
        if (e) return e;
        if (a.type != DX_T_N) return upd_fail(c, msg_bad_type);
        if ((e = resolve_set(c, x->args[1], item, &b))) return e;
        if (b.type != DX_T_N) return upd_fail(c, msg_bad_type);
        if ((e = num_of(c, &a, &na)) || (e = num_of(c, &b, &nb))) return e;
        e = x->kind == N_PLUS ? dx_num_add(&na, &nb, &res, c->r) : dx_num_sub(&na, &nb, &res, c->r);
        if (e) return e;
        return dx_value_from_num(c->a, &res, out) ? nomem_r(c->r) : DX_OK;
    }
    case N_FUNC:
        if (x->op == F_IF_NOT_EXISTS) {
            const dx_value *v = map_path(item, &x->args[0]->p);
            if (v) {
                *out = *v;
                return DX_OK;
            }
            return resolve_set(c, x->args[1], item, out);
        }
        if (x->op == F_LIST_APPEND) {
            dx_value a, b;
            dx_err e = resolve_set(c, x->args[0], item, &a);
            if (e) return e;
            if (a.type != DX_T_L) return upd_fail(c, msg_bad_type);
            if ((e = resolve_set(c, x->args[1], item, &b))) return e;
            if (b.type != DX_T_L) return upd_fail(c, msg_bad_type);
            size_t n = (size_t)a.n + b.n;
            if (n > UINT32_MAX) return upd_fail(c, msg_bad_type);
            dx_value *el = dx_arena_alloc(c->a, (n ? n : 1) * sizeof *el);
            if (!el) return nomem_r(c->r);
            if (a.n) memcpy(el, a.u.elems, a.n * sizeof *el);
            if (b.n) memcpy(el + a.n, b.u.elems, b.n * sizeof *el);
            *out = dx_vlist(el, n);
            return DX_OK;
        }
        return upd_fail(c, msg_bad_type);
    default:
        return upd_fail(c, msg_bad_type);
    }
}

static bool set_contains(const dx_value *set, const dx_value *x) {
    for (uint32_t i = 0; i < set->n; i++)
        if (dx_value_equal(&set->u.elems[i], x)) return true;
    return false;
}

/* ADD and DELETE on one attribute: old (NULL when absent) -> *out / *present. */
static dx_err apply_add_delete(actx *c, const action *ac, const dx_value *old, dx_value *out, bool *present) {
    const dx_value *v = ac->val->v;
    if (ac->kind == A_DELETE && !old) {
        *present = false;
        return DX_OK;
    }
    if (old && old->type != v->type) return upd_fail(c, msg_bad_type);
    if (v->type == DX_T_N) {
        dx_num x, y, res;
        dx_err e = num_of(c, v, &y);
        if (e) return e;
        if (old) {
            if ((e = num_of(c, old, &x)) || (e = dx_num_add(&x, &y, &res, c->r))) return e;
        } else {
            res = y;
        }
        *present = true;
        return dx_value_from_num(c->a, &res, out) ? nomem_r(c->r) : DX_OK;
    }
    if (!old) { /* ADD of a set to an absent attribute */
        *out = *v;
        *present = true;
        return DX_OK;
    }
    size_t cap = ac->kind == A_ADD ? (size_t)old->n + v->n : old->n;
    dx_value *el = dx_arena_alloc(c->a, (cap ? cap : 1) * sizeof *el);
    if (!el) return nomem_r(c->r);
    uint32_t n = 0;
    if (ac->kind == A_ADD) {
        memcpy(el, old->u.elems, old->n * sizeof *el);
        n = old->n;
        for (uint32_t i = 0; i < v->n; i++)
            if (!set_contains(old, &v->u.elems[i])) el[n++] = v->u.elems[i];
    } else {
        for (uint32_t i = 0; i < old->n; i++)
            if (!set_contains(v, &old->u.elems[i])) el[n++] = old->u.elems[i];
    }
    *present = n > 0;
    *out = dx_vset((dx_type)old->type, el, n);
    return DX_OK;
}

/* The new value at trie node t, given the old one (NULL when absent). Recursion is bounded by MAX_PATH. */
static dx_err apply_node(actx *c, const tnode *t, const dx_value *old, dx_value *out, bool *present) {
    if (t->leaf >= 0) {
        const action *ac = &c->u->acts[t->leaf];
        switch (ac->kind) {
        case A_SET:
            *out = c->setv[t->leaf];
            *present = true;
            return DX_OK;
        case A_REMOVE:
            *present = false;
            return DX_OK;
        default:
            return apply_add_delete(c, ac, old, out, present);
        }
    }
    if (!old || !t->child) return upd_fail(c, msg_bad_path);
    *present = true;
    if (t->child->key.kind == E_INDEX) {
        if (old->type != DX_T_L) return upd_fail(c, msg_bad_path);
        dx_value *el = dx_arena_alloc(c->a, ((size_t)old->n + t->nchild + 1) * sizeof *el);
        if (!el) return nomem_r(c->r);
        uint32_t n = 0;
        const tnode *ch = t->child;
        for (uint32_t i = 0; i < old->n; i++) {
            if (ch && ch->key.idx == i) {
                bool got;
                dx_err e = apply_node(c, ch, &old->u.elems[i], &el[n], &got);
                if (e) return e;
                if (got) n++;
                ch = ch->next;
            } else {
                el[n++] = old->u.elems[i];
            }
        }
        for (; ch; ch = ch->next) { /* past the end: SET and ADD append, in index order */
            bool got;
            dx_err e = apply_node(c, ch, NULL, &el[n], &got);
            if (e) return e;
            if (got) n++;
        }
        *out = dx_vlist(el, n);
        return DX_OK;
    }
    if (old->type != DX_T_M) return upd_fail(c, msg_bad_path);
    dx_member *m = dx_arena_alloc(c->a, ((size_t)old->n + t->nchild + 1) * sizeof *m);
    if (!m) return nomem_r(c->r);
    if (old->n) memcpy(m, old->u.members, old->n * sizeof *m);
    uint32_t n = old->n;
    bool removed = false;
    for (const tnode *ch = t->child; ch; ch = ch->next) {
        int j = find_member(old, ch->key.s, ch->key.len);
        bool got;
        dx_value nv;
        dx_err e = apply_node(c, ch, j >= 0 ? &old->u.members[j].value : NULL, &nv, &got);
        if (e) return e;
        if (j >= 0) {
            if (got) {
                m[j].value = nv;
            } else {
                m[j].value.type = DX_T_NONE;
                removed = true;
            }
        } else if (got) {
            m[n].name = ch->key.s;
            m[n].name_len = ch->key.len;
            m[n].value = nv;
            n++;
        }
    }
    if (removed) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++)
            if (m[i].value.type != DX_T_NONE) m[k++] = m[i];
        n = k;
    }
    *out = dx_vmap(m, n);
    return DX_OK;
}

dx_err dx_update_apply(const dx_update_expr *u, dx_arena *a, const dx_value *old, dx_value *out, dx_result *r) {
    if (!u || !a || !out) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_update_apply: NULL argument");
    if (old && old->type != DX_T_M)
        return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_update_apply: the item must be a map (M)");
    dx_value empty = dx_vmap(NULL, 0);
    const dx_value *item = old ? old : &empty;
    actx c = {u, a, r, NULL};
    c.setv = dx_arena_alloc(a, (u->n ? u->n : 1) * sizeof *c.setv);
    if (!c.setv) return nomem_r(r);
    /* Every SET operand sees the item as it was, before any action applies. */
    for (uint32_t i = 0; i < u->n; i++) {
        if (u->acts[i].kind != A_SET) continue;
        dx_err e = resolve_set(&c, u->acts[i].val, item, &c.setv[i]);
        if (e) return e;
    }
    if (!u->root.child) {
        *out = *item;
        return DX_OK;
    }
    bool present;
    return apply_node(&c, &u->root, item, out, &present);
}

/* ================================================================ projections */

dx_err dx_proj_parse(dx_arena *a, dx_expr_env *env, const char *text, dx_projection **out, dx_result *r) {
    static const char what[] = "ProjectionExpression";
    static const int order[] = {S_RESERVED, S_NAMEVAL, S_OVERLAP, S_CONFLICT};
    if (!a || !text || !out) return dx_fail(r, DX_ERR_INVALID_ARG, what, "dx_proj_parse: NULL argument");
    *out = NULL;
    if (!text[0]) return empty_error(r, what);
    parser p;
    parser_init(&p, a, env, what, text, M_PROJ, r);
    path *paths = NULL;
    uint32_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            path *np = dx_arena_alloc(a, cap * sizeof *np);
            if (!np) {
                nomem(&p);
                break;
            }
            if (n) memcpy(np, paths, n * sizeof *np);
            paths = np;
        }
        if (!parse_path_into(&p, &paths[n])) break;
        n++;
        if (!at(&p, T_COMMA)) break;
        advance(&p);
    }
    if (!p.err && !at(&p, T_EOF)) syntax_error(&p);
    if (!p.err) {
        path *ok = dx_arena_alloc(a, (n ? n : 1) * sizeof *ok);
        if (!ok) return dx_fail(r, DX_ERR_NOMEM, what, "out of memory parsing %s", what);
        uint32_t nok = 0;
        for (uint32_t i = 0; i < n; i++)
            if (check_path(&p, ok, nok, &paths[i])) ok[nok++] = paths[i];
    }
    dx_err e = finish_slots(&p, order, sizeof order / sizeof order[0]);
    if (e) return e;
    dx_projection *pr = dx_arena_calloc(a, sizeof *pr);
    if (!pr) return dx_fail(r, DX_ERR_NOMEM, what, "out of memory parsing %s", what);
    pr->paths = paths;
    pr->n = n;
    pr->root.leaf = -1;
    for (uint32_t i = 0; i < n; i++)
        if (!trie_add(a, &pr->root, &paths[i], (int32_t)i))
            return dx_fail(r, DX_ERR_NOMEM, what, "out of memory parsing %s", what);
    *out = pr;
    return DX_OK;
}

dx_err dx_proj_apply(const dx_projection *p, dx_arena *a, const dx_value *item, dx_value *out) {
    if (!p || !a || !out) return DX_ERR_INVALID_ARG;
    return project_root(a, &p->root, item, out);
}

unsigned dx_proj_refs(const dx_projection *p, const char *name) {
    if (!p || !name) return 0;
    size_t len = strlen(name);
    unsigned f = 0;
    for (uint32_t i = 0; i < p->n; i++) f |= path_refs(&p->paths[i], name, len);
    return f;
}

/* ================================================================ environment */

static bool key_ok(const dx_member *m, char lead) {
    if (m->name_len < 2 || m->name[0] != lead) return false;
    for (uint32_t i = 1; i < m->name_len; i++)
        if (!is_ident_part((unsigned char)m->name[i])) return false;
    return true;
}

dx_err dx_expr_env_init(dx_expr_env *env, dx_arena *a, const dx_value *names, const dx_value *values,
                        dx_result *r) {
    if (!env || !a) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "dx_expr_env_init: NULL argument");
    memset(env, 0, sizeof *env);
    if (names) {
        if (names->type != DX_T_M)
            return dx_fail(r, DX_ERR_INVALID_ARG, "ExpressionAttributeNames", "ExpressionAttributeNames must be a map");
        if (names->n == 0)
            return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeNames", "ExpressionAttributeNames must not be empty");
        for (uint32_t i = 0; i < names->n; i++) {
            const dx_member *m = &names->u.members[i];
            if (!key_ok(m, '#'))
                return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeNames",
                               "ExpressionAttributeNames contains invalid key: Syntax error; key: \"%.*s\"",
                               (int)m->name_len, m->name);
        }
        for (uint32_t i = 0; i < names->n; i++) {
            const dx_member *m = &names->u.members[i];
            if (m->value.type != DX_T_S)
                return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeNames",
                               "ExpressionAttributeNames contains invalid value: the value must be a string (S) "
                               "for key %.*s",
                               (int)m->name_len, m->name);
            if (m->value.n == 0)
                return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeNames",
                               "ExpressionAttributeNames contains invalid value: Empty attribute name for key %.*s",
                               (int)m->name_len, m->name);
        }
        env->names = names;
        env->name_used = dx_arena_calloc(a, names->n * sizeof *env->name_used);
        if (!env->name_used) return nomem_r(r);
    }
    if (values) {
        if (values->type != DX_T_M)
            return dx_fail(r, DX_ERR_INVALID_ARG, "ExpressionAttributeValues", "ExpressionAttributeValues must be a map");
        if (values->n == 0)
            return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeValues", "ExpressionAttributeValues must not be empty");
        for (uint32_t i = 0; i < values->n; i++) {
            const dx_member *m = &values->u.members[i];
            if (!key_ok(m, ':'))
                return dx_fail(r, DX_ERR_VALIDATION, "ExpressionAttributeValues",
                               "ExpressionAttributeValues contains invalid key: Syntax error; key: \"%.*s\"",
                               (int)m->name_len, m->name);
        }
        for (uint32_t i = 0; i < values->n; i++) {
            const dx_member *m = &values->u.members[i];
            dx_result vr;
            dx_result_clear(&vr);
            dx_err e = dx_value_validate(&m->value, m->name, &vr);
            if (e == DX_ERR_VALIDATION)
                return dx_fail(r, e, "ExpressionAttributeValues",
                               "ExpressionAttributeValues contains invalid value: %s for key %.*s", vr.message,
                               (int)m->name_len, m->name);
            if (e) return dx_fail(r, e, "ExpressionAttributeValues", "%s", vr.message);
        }
        env->values = values;
        env->value_used = dx_arena_calloc(a, values->n * sizeof *env->value_used);
        if (!env->value_used) return nomem_r(r);
    }
    return DX_OK;
}

static dx_err unused_error(const dx_value *m, const bool *used, const char *what, dx_result *r) {
    char keys[400];
    size_t o = 0;
    bool any = false;
    keys[0] = 0;
    for (uint32_t i = 0; i < m->n; i++) {
        if (used[i]) continue;
        int w = snprintf(keys + o, sizeof keys - o, "%s%.*s", any ? ", " : "", (int)m->u.members[i].name_len,
                         m->u.members[i].name);
        any = true;
        if (w < 0 || (size_t)w >= sizeof keys - o) {
            o = sizeof keys - 1;
            break;
        }
        o += (size_t)w;
    }
    if (!any) return DX_OK;
    return dx_fail(r, DX_ERR_VALIDATION, what, "Value provided in %s unused in expressions: keys: {%s}", what, keys);
}

dx_err dx_expr_env_check_unused(const dx_expr_env *env, dx_result *r) {
    if (!env) return DX_OK;
    dx_err e = DX_OK;
    if (env->names && env->name_used) e = unused_error(env->names, env->name_used, "ExpressionAttributeNames", r);
    if (!e && env->values && env->value_used)
        e = unused_error(env->values, env->value_used, "ExpressionAttributeValues", r);
    return e;
}

/* ================================================================ builder */

void dx_eb_init(dx_expr_builder *b, dx_arena *a) {
    memset(b, 0, sizeof *b);
    b->arena = a;
    b->names.arena = a;
    b->values.arena = a;
}

const char *dx_eb_name(dx_expr_builder *b, const char *attr) {
    if (!b || !attr) return NULL;
    if (!b->names.arena) b->names.arena = b->arena;
    size_t len = strlen(attr);
    for (uint32_t i = 0; i < b->names.n; i++) {
        const dx_member *m = &b->names.m[i];
        if (m->value.n == len && memcmp(m->value.u.s, attr, len) == 0) return m->name;
    }
    char ph[16];
    int n = snprintf(ph, sizeof ph, "#n%u", b->names.n);
    dx_value *slot = dx_mapb_add(&b->names, ph, (size_t)n);
    if (!slot) return NULL;
    *slot = dx_vsn(attr, len);
    return b->names.m[b->names.n - 1].name;
}

const char *dx_eb_value(dx_expr_builder *b, const dx_value *v) {
    if (!b || !v) return NULL;
    if (!b->values.arena) b->values.arena = b->arena;
    char ph[16];
    int n = snprintf(ph, sizeof ph, ":v%u", b->values.n);
    dx_value *slot = dx_mapb_add(&b->values, ph, (size_t)n);
    if (!slot) return NULL;
    *slot = *v;
    return b->values.m[b->values.n - 1].name;
}

const dx_value *dx_eb_names(dx_expr_builder *b, dx_value *storage) {
    if (!b || !storage || b->names.n == 0) return NULL;
    *storage = dx_vmap(b->names.m, b->names.n);
    return storage;
}

const dx_value *dx_eb_values(dx_expr_builder *b, dx_value *storage) {
    if (!b || !storage || b->values.n == 0) return NULL;
    *storage = dx_vmap(b->values.m, b->values.n);
    return storage;
}

dx_err dx_eb_update_set(dx_expr_builder *b, const dx_member *fields, size_t n, dx_buf *out) {
    if (!b || !out || (!fields && n) || n == 0) return DX_ERR_INVALID_ARG;
    size_t start = out->len;
    bool any_set = false, any_remove = false;
    for (size_t i = 0; i < n; i++) {
        if (fields[i].value.type == DX_T_NONE) {
            any_remove = true;
            continue;
        }
        const char *nm = dx_eb_name(b, fields[i].name);
        const char *vl = nm ? dx_eb_value(b, &fields[i].value) : NULL;
        if (!vl || !dx_buf_printf(out, "%s%s = %s", any_set ? ", " : "SET ", nm, vl)) goto nomem;
        any_set = true;
    }
    if (any_remove) {
        bool first = true;
        for (size_t i = 0; i < n; i++) {
            if (fields[i].value.type != DX_T_NONE) continue;
            const char *nm = dx_eb_name(b, fields[i].name);
            if (!nm) goto nomem;
            const char *lead = !first ? ", " : any_set ? " REMOVE " : "REMOVE ";
            if (!dx_buf_printf(out, "%s%s", lead, nm)) goto nomem;
            first = false;
        }
    }
    return DX_OK;
nomem:
    out->len = start;
    if (out->ptr) out->ptr[start] = 0;
    return DX_ERR_NOMEM;
}

dx_err dx_eb_exists(dx_expr_builder *b, const char *attr, bool exists, dx_buf *out) {
    if (!b || !attr || !out) return DX_ERR_INVALID_ARG;
    const char *nm = dx_eb_name(b, attr);
    if (!nm) return DX_ERR_NOMEM;
    if (!dx_buf_printf(out, "%s(%s)", exists ? "attribute_exists" : "attribute_not_exists", nm)) return DX_ERR_NOMEM;
    return DX_OK;
}

dx_err dx_expr_names_for(dx_arena *a, const char *text, dx_value *out, dx_result *r) {
    dx_map_builder b = {.arena = a};
    *out = dx_vmap(NULL, 0);
    if (!a || !text) return dx_fail(r, DX_ERR_INVALID_ARG, NULL, "no arena or no text");
    for (const char *p = strchr(text, '#'); p; p = strchr(p, '#')) {
        const char *q = p + 1;
        while (is_ident_part((unsigned char)*q)) q++;
        size_t len = (size_t)(q - p); /* with the '#' */
        if (len == 1) {
            dx_fail(r, DX_ERR_VALIDATION, NULL, "'#' must be followed by an attribute name");
            if (r) r->offset = (long)(p - text);
            return DX_ERR_VALIDATION;
        }
        dx_value sofar = dx_vmap(b.m, b.n);
        if (find_member(&sofar, p, len) < 0) {
            dx_value *slot = dx_mapb_add(&b, p, len);
            char *attr = dx_arena_strndup(a, p + 1, len - 1);
            if (!slot || !attr) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
            *slot = dx_vsn(attr, len - 1);
        }
        p = q;
    }
    *out = dx_mapb_finish(&b);
    return DX_OK;
}
