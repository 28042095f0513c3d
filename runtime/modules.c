/* The modules that sit on top of the engine, in bring-up order: the one
 * place that names them. It lives outside the layered folders so that the
 * engine (base, mem, chan, sched, core) reaches them only through the table
 * declared in base/runtime.h; runtime.c brings them up after the subsystems
 * and down before them. A module hooks itself into the engine at its init
 * (rt->observer, the recorder of core/trace.h) and reads the collectors the
 * subsystems registered (base/stats_rec.h). */
#include "base/runtime.h"
#include "kern/kern.h"
#include "prof/prof.h"

const struct rt_module rt_modules[] = {
    {"prof", prof_init, prof_fini},         /* live stats segment and trace writer */
    {"kern", kern_lib_init, kern_lib_fini}, /* library agents' CPU-side plans (FFTW) */
};
const int rt_nmodules = sizeof rt_modules / sizeof rt_modules[0];
