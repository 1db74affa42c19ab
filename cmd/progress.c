/*
 * progress.c - the progress line of `dynox run` and the runner's log
 * messages on stderr (after curl's tool_progress.c).
 *
 * One line, redrawn in place with \r at most every 500 ms, only when stderr
 * is a terminal: rows/s over the last few seconds (a ring of recent samples,
 * not an average since the start, so a slowdown shows at once), the counts
 * of written, rejected and failed rows, throttles, and the time left from
 * the input bytes read so far. Numbers have fixed widths so the line does
 * not jitter. Log messages from the runner (any thread) first erase the
 * line, so the two never interleave; the next tick redraws it.
 *
 * Must never: draw when stderr is not a terminal (logs and CI stay clean),
 * or print a log message at a level the user did not ask for.
 */
#include "cli.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t ui_mu = PTHREAD_MUTEX_INITIALIZER;

void cli_fmt_count(uint64_t v, char out[8]) {
    static const char units[] = "kMGTPE";
    if (v < 100000) {
        snprintf(out, 8, "%llu", (unsigned long long)v);
        return;
    }
    double d = (double)v;
    size_t u = 0;
    while (d >= 1000 && u < sizeof units - 1) {
        d /= 1000;
        u++;
    }
    /* 123k, 12.3M: never more than 5 columns */
    if (d < 100) {
        snprintf(out, 8, "%.1f%c", d, units[u - 1]);
    } else {
        snprintf(out, 8, "%.0f%c", d, units[u - 1]);
    }
}

void cli_fmt_eta(double s, char out[16]) {
    if (s < 0 || s > 359999) {
        snprintf(out, 16, "--:--");
        return;
    }
    unsigned t = (unsigned)(s + 0.5); /* below 100 hours */
    if (t >= 3600) {
        snprintf(out, 16, "%u:%02u:%02u", (t / 3600) % 100, t / 60 % 60, t % 60);
    } else {
        snprintf(out, 16, "%u:%02u", (t / 60) % 60, t % 60);
    }
}

void cli_ui_init(cli_ui *ui, const cli_config *cfg) {
    memset(ui, 0, sizeof *ui);
    ui->cfg = cfg;
    ui->tty = !cfg->quiet && isatty(STDERR_FILENO);
    ui->mu = &ui_mu;
}

/* Erases the drawn line; caller holds the lock. */
static void erase(cli_ui *ui) {
    if (!ui->drawn) return;
    fprintf(stderr, "\r%*s\r", (int)ui->drawn_len, "");
    ui->drawn = false;
}

void cli_ui_progress(const dxj_progress *p, void *ud) {
    cli_ui *ui = ud;
    if (!ui->tty) return;
    uint64_t now = dx_now_ms();
    pthread_mutex_lock(ui->mu);
    if (ui->nring && now - ui->last_ms < 500) {
        pthread_mutex_unlock(ui->mu);
        return;
    }
    ui->last_ms = now;
    /* Rows finished (not merely read: the reader runs ahead of the writes). The oldest
     * sample in the ring is the base of the rate, so it follows the last few seconds. */
    uint64_t done = p->written + p->rejected + p->failed;
    size_t oldest = ui->nring < CLI_RING ? 0 : ui->head;
    double rows_s = 0;
    if (ui->nring) {
        uint64_t dt = now - ui->ring[oldest].ms;
        if (dt > 0) rows_s = (double)(done - ui->ring[oldest].rows) * 1000.0 / (double)dt;
    } else if (p->elapsed_s > 0) {
        rows_s = (double)done / p->elapsed_s;
    }
    ui->ring[ui->head].ms = now;
    ui->ring[ui->head].rows = done;
    ui->ring[ui->head].bytes = p->in_bytes;
    ui->head = (ui->head + 1) % CLI_RING;
    if (ui->nring < CLI_RING) ui->nring++;

    /* Time left: the rows the input holds, estimated from the share of its bytes read so
     * far (or --limit), minus those finished, at the current rate. Unknown for a pipe. */
    double left = -1;
    if (rows_s > 0 && p->in_total && p->in_bytes && p->rows_in) {
        double total = (double)p->rows_in * (double)p->in_total / (double)p->in_bytes;
        if (ui->limit && (double)ui->limit < total) total = (double)ui->limit;
        left = total > (double)done ? (total - (double)done) / rows_s : 0;
    } else if (rows_s > 0 && ui->limit) {
        left = ui->limit > done ? (double)(ui->limit - done) / rows_s : 0;
    }
    char rows[8], rate[8], wr[8], rej[8], fail[8], thr[8], eta[16];
    cli_fmt_count(done, rows);
    cli_fmt_count((uint64_t)(rows_s + 0.5), rate);
    cli_fmt_count(p->written, wr);
    cli_fmt_count(p->rejected, rej);
    cli_fmt_count(p->failed, fail);
    cli_fmt_count(p->throttles, thr);
    cli_fmt_eta(left, eta);
    char line[160];
    int n = snprintf(line, sizeof line,
                     "%5s rows %5s/s | written %5s | rejected %5s | failed %5s | throttled %5s | "
                     "left %s",
                     rows, rate, wr, rej, fail, thr, eta);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    fprintf(stderr, "\r%s", line);
    if ((size_t)n < ui->drawn_len) fprintf(stderr, "%*s", (int)(ui->drawn_len - (size_t)n), "");
    fflush(stderr);
    ui->drawn = true;
    ui->drawn_len = (size_t)n;
    pthread_mutex_unlock(ui->mu);
}

void cli_ui_log(dxj_log_level level, const char *msg, void *ud) {
    cli_ui *ui = ud;
    int v = ui->cfg->verbose;
    if ((level == DXJ_LOG_INFO && v < 1) || (level == DXJ_LOG_DEBUG && v < 2)) return;
    static const char *const tags[] = {"error: ", "warning: ", "", "debug: "};
    pthread_mutex_lock(ui->mu);
    erase(ui);
    fprintf(stderr, "dynox %s: %s%s\n", ui->cfg->cmd_name, tags[level], msg);
    fflush(stderr);
    pthread_mutex_unlock(ui->mu);
}

void cli_ui_finish(cli_ui *ui) {
    pthread_mutex_lock(ui->mu);
    erase(ui);
    fflush(stderr);
    pthread_mutex_unlock(ui->mu);
}
