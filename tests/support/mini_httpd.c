/*
 * mini_httpd.c - see mini_httpd.h. A poll() loop over a listening socket, a
 * wake-up pipe and up to MAX_CONNS connections; replies are queued with a
 * due time so delayed answers on one connection never hold up another.
 *
 * Must never: listen beyond 127.0.0.1, or leave a thread or descriptor
 * behind after mh_stop.
 */
#include "mini_httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 512

typedef struct conn {
    int fd;
    unsigned id, seq;
    dx_buf in;
    uint64_t last_ms;   /* last activity */
    bool hung;          /* got a request that is never answered */
    bool waiting;       /* a delayed reply is queued */
    uint64_t due_ms;
    dx_buf out;
    bool close_after;
} conn;

struct mh_server {
    mh_handler handler;
    void *ud;
    mh_opts o;
    int lfd, port;
    int wake[2];
    pthread_t thr;
    conn conns[MAX_CONNS];
    size_t nconns;
    _Atomic unsigned accepted, requests, outstanding_max;
    unsigned outstanding;
};

static void conn_close(mh_server *s, size_t i, bool reset) {
    conn *c = &s->conns[i];
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd);
    if (c->waiting || c->hung) s->outstanding--;
    dx_buf_free(&c->in);
    dx_buf_free(&c->out);
    s->conns[i] = s->conns[--s->nconns];
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static const char *reason(int st) {
    switch (st) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 413: return "Request Entity Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* Parses one complete request at the front of c->in; returns its length or 0. */
static size_t complete_len(const conn *c, size_t *hdr_len, size_t *body_len) {
    const char *p = c->in.ptr;
    if (!p) return 0;
    const char *e = memmem(p, c->in.len, "\r\n\r\n", 4);
    if (!e) return 0;
    size_t hl = (size_t)(e - p) + 4, cl = 0;
    for (const char *q = p; q < e;) {
        const char *nl = memmem(q, (size_t)(e - q) + 2, "\r\n", 2);
        if (!nl) break;
        if ((size_t)(nl - q) > 15 && strncasecmp(q, "Content-Length:", 15) == 0)
            cl = strtoul(q + 15, NULL, 10);
        q = nl + 2;
    }
    if (c->in.len < hl + cl) return 0;
    *hdr_len = hl;
    *body_len = cl;
    return hl + cl;
}

/* Handles every complete request buffered on connection i; false when it was closed. */
static bool serve(mh_server *s, size_t i, uint64_t now) {
    for (;;) {
        conn *c = &s->conns[i];
        if (c->waiting || c->hung) return true;
        size_t hl, bl, n = complete_len(c, &hl, &bl);
        if (!n) return true;
        char method[16] = "", path[512] = "";
        sscanf(c->in.ptr, "%15s %511s", method, path);
        c->seq++;
        mh_req rq = {c->in.ptr, n, method, path, c->in.ptr + hl, bl, c->id, c->seq,
                     atomic_fetch_add(&s->requests, 1) + 1};
        s->outstanding++;
        if (s->outstanding > atomic_load(&s->outstanding_max))
            atomic_store(&s->outstanding_max, s->outstanding);
        mh_reply rp;
        memset(&rp, 0, sizeof rp);
        s->handler(s->ud, &rq, &rp);
        memmove(c->in.ptr, c->in.ptr + n, c->in.len - n);
        c->in.len -= n;
        c->last_ms = now;
        switch (rp.action) {
        case MH_HANG:
            c->hung = true;
            dx_buf_free(&rp.body);
            return true;
        case MH_RESET:
        case MH_CLOSE:
            dx_buf_free(&rp.body);
            s->outstanding--;
            c->waiting = false;
            conn_close(s, i, rp.action == MH_RESET);
            return false;
        case MH_REPLY:
            break;
        }
        int st = rp.status ? rp.status : 200;
        dx_buf_clear(&c->out);
        dx_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s\r\n", st,
                      reason(st), rp.body.len, rp.close ? "Connection: close\r\n" : "",
                      rp.headers);
        if (rp.body.len) dx_buf_append(&c->out, rp.body.ptr, rp.body.len);
        dx_buf_free(&rp.body);
        c->close_after = rp.close;
        c->waiting = true;
        c->due_ms = now + rp.delay_ms;
        if (rp.delay_ms) return true;
        send_all(c->fd, c->out.ptr, c->out.len);
        c->waiting = false;
        s->outstanding--;
        if (c->close_after) {
            conn_close(s, i, false);
            return false;
        }
    }
}

static void *server_main(void *arg) {
    mh_server *s = arg;
    struct pollfd pf[MAX_CONNS + 2];
    for (;;) {
        uint64_t now = dx_now_ms();
        int timeout = 50;
        for (size_t i = 0; i < s->nconns; i++) {
            conn *c = &s->conns[i];
            if (c->waiting) {
                int64_t d = (int64_t)c->due_ms - (int64_t)now;
                if (d < timeout) timeout = d < 0 ? 0 : (int)d;
            }
        }
        size_t n = 0;
        pf[n++] = (struct pollfd){s->wake[0], POLLIN, 0};
        pf[n++] = (struct pollfd){s->lfd, s->nconns < MAX_CONNS ? POLLIN : 0, 0};
        for (size_t i = 0; i < s->nconns; i++) pf[n++] = (struct pollfd){s->conns[i].fd, POLLIN, 0};
        int rc = poll(pf, (nfds_t)n, timeout);
        if (rc < 0 && errno != EINTR) break;
        if (pf[0].revents) break;
        now = dx_now_ms();
        if (pf[1].revents & POLLIN) {
            int fd = accept(s->lfd, NULL, NULL);
            if (fd >= 0) {
                conn *c = &s->conns[s->nconns++];
                memset(c, 0, sizeof *c);
                c->fd = fd;
                c->id = atomic_fetch_add(&s->accepted, 1) + 1;
                c->last_ms = now;
            }
        }
        /* Reads. Connections are compacted on close, so walk by fd from the poll set. */
        for (size_t k = 2; k < n; k++) {
            if (!pf[k].revents) continue;
            size_t i = 0;
            while (i < s->nconns && s->conns[i].fd != pf[k].fd) i++;
            if (i == s->nconns) continue;
            conn *c = &s->conns[i];
            char buf[65536];
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r <= 0) {
                conn_close(s, i, false);
                continue;
            }
            dx_buf_append(&c->in, buf, (size_t)r);
            c->last_ms = now;
            serve(s, i, now);
        }
        /* Due replies, then idle closes. */
        for (size_t i = 0; i < s->nconns;) {
            conn *c = &s->conns[i];
            if (c->waiting && c->due_ms <= now) {
                send_all(c->fd, c->out.ptr, c->out.len);
                c->waiting = false;
                s->outstanding--;
                c->last_ms = now;
                if (c->close_after) {
                    conn_close(s, i, false);
                    continue;
                }
                if (!serve(s, i, now)) continue;
            }
            if (s->o.idle_close_ms && !c->waiting && !c->hung && c->in.len == 0 &&
                now - c->last_ms >= s->o.idle_close_ms) {
                conn_close(s, i, false);
                continue;
            }
            i++;
        }
    }
    while (s->nconns) conn_close(s, s->nconns - 1, false);
    return NULL;
}

mh_server *mh_start(mh_handler h, void *ud, const mh_opts *opts) {
    mh_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->handler = h;
    s->ud = ud;
    if (opts) s->o = *opts;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(s->lfd, 1024) != 0 || getsockname(s->lfd, (struct sockaddr *)&sa, &sl) != 0 ||
        pipe(s->wake) != 0) {
        if (s->lfd >= 0) close(s->lfd);
        free(s);
        return NULL;
    }
    s->port = ntohs(sa.sin_port);
    if (pthread_create(&s->thr, NULL, server_main, s) != 0) {
        close(s->lfd);
        close(s->wake[0]);
        close(s->wake[1]);
        free(s);
        return NULL;
    }
    return s;
}

int mh_port(const mh_server *s) { return s->port; }

void mh_url(const mh_server *s, const char *path, char *out, size_t n) {
    snprintf(out, n, "http://127.0.0.1:%d%s", s->port, path ? path : "/");
}

unsigned mh_connections(const mh_server *s) { return atomic_load(&s->accepted); }
unsigned mh_requests(const mh_server *s) { return atomic_load(&s->requests); }
unsigned mh_max_outstanding(const mh_server *s) { return atomic_load(&s->outstanding_max); }

void mh_stop(mh_server *s) {
    if (!s) return;
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w;
    pthread_join(s->thr, NULL);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    free(s);
}
