/*
 * mini_httpd.h - a tiny HTTP/1.1 server on 127.0.0.1 in a thread, for tests
 * of the HTTP engine and the DynamoDB backend.
 *
 * One thread polls the listening socket and every connection. Each complete
 * request (headers + Content-Length body) goes to a handler callback, run on
 * the server thread, which decides what happens: a reply (optionally
 * delayed, optionally closing the connection), no reply at all (hang), a TCP
 * reset, or a plain close. Idle keep-alive connections can be closed after a
 * set time, as dynalite does after 5 s. Counters say how many connections
 * were accepted and how many requests were answered concurrently at most.
 *
 * Must never: listen on anything but 127.0.0.1, or block the test thread.
 */
#ifndef DYNOX_MINI_HTTPD_H
#define DYNOX_MINI_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynox/util.h"

typedef struct mh_server mh_server;

/* A received request; valid only during the handler call. */
typedef struct mh_req {
    const char *raw;   /* the whole request as received: request line, headers, body */
    size_t raw_len;
    const char *method; /* NUL-terminated */
    const char *path;
    const char *body;   /* points into raw */
    size_t body_len;
    unsigned conn_id;   /* 1-based number of the connection it came on */
    unsigned conn_seq;  /* 1-based number of the request on that connection */
    unsigned seq;       /* 1-based number of the request on the server */
} mh_req;

typedef enum mh_action {
    MH_REPLY = 0, /* send the reply below */
    MH_HANG,      /* never answer (the client times out) */
    MH_RESET,     /* close with a TCP RST, no answer */
    MH_CLOSE      /* close cleanly (FIN), no answer */
} mh_action;

/* What the handler fills in; starts zeroed (status 0 means 200). */
typedef struct mh_reply {
    mh_action action;
    int status;
    char headers[1024]; /* extra header lines, each ending in "\r\n" */
    dx_buf body;        /* the server frees it */
    unsigned delay_ms;  /* answer this much later (other connections go on meanwhile) */
    bool close;         /* close the connection after answering */
} mh_reply;

typedef void (*mh_handler)(void *ud, const mh_req *req, mh_reply *out);

typedef struct mh_opts {
    unsigned idle_close_ms; /* close a connection idle this long between requests (0: never) */
} mh_opts;

/* Starts a server on 127.0.0.1 and a free port; NULL on failure. opts may be NULL. */
mh_server *mh_start(mh_handler h, void *ud, const mh_opts *opts);
/* The port it listens on. */
int mh_port(const mh_server *s);
/* "http://127.0.0.1:<port>" + path, in a static-free caller buffer. */
void mh_url(const mh_server *s, const char *path, char *out, size_t n);
/* Connections accepted so far. */
unsigned mh_connections(const mh_server *s);
/* Requests received so far. */
unsigned mh_requests(const mh_server *s);
/* Most requests received and not yet answered at the same time. */
unsigned mh_max_outstanding(const mh_server *s);
/* Stops the thread, closes every connection, frees. NULL is a no-op. */
void mh_stop(mh_server *s);

#endif
