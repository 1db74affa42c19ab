/*
 * plugin.h - user hooks from a shared library named in the job spec
 * ("hooks": {"plugin": "./libmyhooks.so", "plugin_arg": "..."}).
 *
 * Writing a plugin. Build a shared library that exports
 *
 *     int dynox_plugin_init(dx_model *m, const char *arg);
 *
 * and, in it, registers hooks on m with dx_model_add_hook (dynox/model.h):
 *
 *     static dx_err stamp(dx_item *it, dx_hook_kind k, void *ud, dx_result *r) {
 *         return dx_item_set_str(it, "migrated_by", ud, r);
 *     }
 *     int dynox_plugin_init(dx_model *m, const char *arg) {
 *         return dx_model_add_hook(m, DX_HOOK_BEFORE_SAVE, stamp, (void *)"nightly");
 *     }
 *
 *     cc -shared -fPIC -I<dynox>/lib/include -o libmyhooks.so myhooks.c
 *
 * Optionally it also exports
 *
 *     void dynox_plugin_fini(void);
 *
 * which the runner calls once after the last hook has run, before unloading
 * the library: release there what init acquired (a client, files).
 *
 * Return 0 on success; any other value stops the job before it reads
 * anything ("plugin ./libmyhooks.so: dynox_plugin_init returned 3"). `arg` is
 * the spec's plugin_arg (NULL when absent). The plugin resolves dx_* symbols
 * from the dynox program, which is linked with -rdynamic for that reason.
 *
 * What the plugin is given is a model with the job model's name, attributes
 * and table, but a hook list of its own: the runner runs the model's hooks
 * (built-in ones from the model file and the spec) and then the plugin's,
 * for each kind, on the same item, and --skip-hooks (or the model's
 * skip_hooks) turns both off. Hooks run on worker threads, several at once:
 * they must be thread-safe (ud is shared). They may call libdynox freely
 * (the model's client is thread-safe). The library stays loaded until the
 * run ends; keep no pointer to m or to items after a hook returns.
 *
 * Must never: run a plugin's code before the spec has been checked, or
 * unload it while a hook may still run.
 */
#ifndef DYNOX_JOBS_PLUGIN_H
#define DYNOX_JOBS_PLUGIN_H

#include "dynox/dynox.h"

typedef struct dxj_plugin dxj_plugin;

/* The entry point a plugin exports. */
typedef int (*dxj_plugin_init_fn)(dx_model *m, const char *arg);
#define DXJ_PLUGIN_INIT "dynox_plugin_init"
/* The optional clean-up a plugin exports, called before the library is unloaded. */
typedef void (*dxj_plugin_fini_fn)(void);
#define DXJ_PLUGIN_FINI "dynox_plugin_fini"

/*
 * Loads the library at path (dlopen, RTLD_NOW), makes a hook model shaped
 * like `model` and calls dynox_plugin_init(hook_model, arg). DX_ERR_CONFIG
 * naming the path and dlerror()'s text when it cannot be loaded or lacks the
 * entry point; DX_ERR_HOOK when init returns non-zero.
 */
dx_err dxj_plugin_load(const char *path, const char *arg, const dx_model *model, dxj_plugin **out,
                       dx_result *r);
/* The model holding the plugin's hooks (run it with dx_model_run_hooks). */
const dx_model *dxj_plugin_model(const dxj_plugin *p);
/* Calls the plugin's dynox_plugin_fini when it has one, frees the hook model
 * and unloads the library. NULL is a no-op. */
void dxj_plugin_free(dxj_plugin *p);

/*
 * Runs the hooks of `kind` on item: the model's, then the plugin's (p may be
 * NULL), unless skip resolves to yes for the model. The plugin's hooks are
 * skipped exactly when the model's are.
 */
dx_err dxj_run_hooks(const dx_model *m, const dxj_plugin *p, dx_item *item, dx_hook_kind kind,
                     dx_tristate skip, dx_result *r);

#endif
