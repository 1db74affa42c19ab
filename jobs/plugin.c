/*
 * plugin.c - loading a user's hook library (see plugin.h for the contract).
 *
 * The plugin registers its hooks on a model of its own, built from the job
 * model's attributes and config, rather than on the job model: a model has
 * no way to remove hooks, and the job model outlives the run (the CLI or a
 * test may run the same spec twice, e.g. to resume), so adding the plugin's
 * hooks to it would leave pointers into an unloaded library and run them
 * twice on the next run. The hook model dies with the run, just before the
 * library is unloaded.
 *
 * Must never: run a plugin's code before the spec has been checked, or
 * unload it while a hook may still run.
 */
#include "plugin.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

struct dxj_plugin {
    void *handle;
    dx_model *hooks;
    dxj_plugin_fini_fn fini; /* NULL when the plugin exports none */
};

static dx_err clone_model(const dx_model *m, dx_model **out, dx_result *r) {
    size_t n = dx_model_nattrs(m);
    dx_attr_def *defs = calloc(n ? n : 1, sizeof *defs);
    if (!defs) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) defs[i] = *dx_model_attr(m, i);
    dx_model_config cfg = *dx_model_config_get(m);
    cfg.skip_hooks = false; /* the job model's setting decides; see dxj_run_hooks */
    dx_err e = dx_model_new(dx_model_name(m), defs, n, &cfg, out, r);
    free(defs);
    return e;
}

dx_err dxj_plugin_load(const char *path, const char *arg, const dx_model *model, dxj_plugin **out,
                       dx_result *r) {
    *out = NULL;
    dxj_plugin *p = calloc(1, sizeof *p);
    if (!p) return dx_fail(r, DX_ERR_NOMEM, NULL, "out of memory");
    dlerror();
    p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        const char *why = dlerror();
        free(p);
        return dx_fail(r, DX_ERR_CONFIG, "hooks.plugin", "plugin %s cannot be loaded: %s%s", path,
                       why ? why : "unknown error",
                       strchr(path, '/') ? "" : " (write ./name.so for a file in this directory)");
    }
    union {
        void *obj;
        dxj_plugin_init_fn fn;
    } sym;
    dlerror();
    sym.obj = dlsym(p->handle, DXJ_PLUGIN_INIT);
    if (!sym.obj) {
        char why[256];
        const char *w = dlerror(); /* owned by libdl: copy it before dlclose frees it */
        snprintf(why, sizeof why, "%s", w ? w : "symbol not found");
        dlclose(p->handle);
        free(p);
        return dx_fail(r, DX_ERR_CONFIG, "hooks.plugin",
                       "plugin %s does not export %s(dx_model *, const char *): %s", path,
                       DXJ_PLUGIN_INIT, why);
    }
    dx_err e = clone_model(model, &p->hooks, r);
    if (e) {
        dlclose(p->handle);
        free(p);
        return e;
    }
    int rc = sym.fn(p->hooks, arg);
    /* Only after a successful init is there anything for fini to release. */
    union {
        void *obj;
        dxj_plugin_fini_fn fn;
    } fini;
    fini.obj = rc == 0 ? dlsym(p->handle, DXJ_PLUGIN_FINI) : NULL;
    p->fini = fini.fn;
    if (rc != 0) {
        dxj_plugin_free(p);
        return dx_fail(r, DX_ERR_HOOK, "hooks.plugin", "plugin %s: %s returned %d", path,
                       DXJ_PLUGIN_INIT, rc);
    }
    *out = p;
    return DX_OK;
}

const dx_model *dxj_plugin_model(const dxj_plugin *p) { return p ? p->hooks : NULL; }

void dxj_plugin_free(dxj_plugin *p) {
    if (!p) return;
    if (p->fini) p->fini();
    dx_model_free(p->hooks);
    if (p->handle) dlclose(p->handle);
    free(p);
}

dx_err dxj_run_hooks(const dx_model *m, const dxj_plugin *p, dx_item *item, dx_hook_kind kind,
                     dx_tristate skip, dx_result *r) {
    if (skip == DX_YES || (skip == DX_DEFAULT && dx_model_config_get(m)->skip_hooks)) return DX_OK;
    dx_err e = dx_model_run_hooks(m, item, kind, DX_NO, r);
    if (e == DX_OK && p) e = dx_model_run_hooks(p->hooks, item, kind, DX_NO, r);
    return e;
}
