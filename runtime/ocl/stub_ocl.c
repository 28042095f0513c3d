/* STUB (being replaced piece by piece by runtime/ocl): kernel agents,
 * replicas and programs not landed yet. */
#include "core/error.h"
#include "ocl/ocl_int.h"
#include "prof/records.h"

int ocl_prog_init(struct maestro_runtime *rt) {
  (void)rt;
  return MAESTRO_OK;
}
void ocl_prog_fini(struct maestro_runtime *rt) {
  (void)rt;
}
int ocl_completion_start(ocl_dev_t *d);
void ocl_completion_stop(ocl_dev_t *d);
int ocl_completion_start(ocl_dev_t *d) {
  (void)d;
  return MAESTRO_OK;
}
void ocl_completion_stop(ocl_dev_t *d) {
  (void)d;
}
void ocl_mem_fini(ocl_dev_t *d) {
  (void)d;
}
int ocl_kagent_create(struct maestro_runtime *rt, const char *agent, const maestro_kernel_t *k,
                      const maestro_port_t *in, int n_in, const maestro_port_t *out, int n_out,
                      ocl_kagent_t **ka) {
  (void)rt;
  (void)k;
  (void)in;
  (void)n_in;
  (void)out;
  (void)n_out;
  *ka = NULL;
  return err_set(MAESTRO_ENODEV, "agent '%s': OpenCL kernel agents not built yet", agent);
}
void ocl_kagent_destroy(ocl_kagent_t *ka) {
  (void)ka;
}
int ocl_launch(ocl_kagent_t *ka, int dev, maestro_buf_t *const *in, ocl_done_fn done, void *ctx) {
  (void)ka;
  (void)dev;
  (void)in;
  (void)done;
  (void)ctx;
  return MAESTRO_ENODEV;
}
int ocl_buf_sync_host(maestro_buf_t *b) {
  (void)b;
  return MAESTRO_OK;
}
void ocl_buf_invalidate_devices(maestro_buf_t *b) {
  (void)b;
}
void ocl_buf_free_replicas(maestro_buf_t *b) {
  (void)b;
}
int ocl_buf_valid_on(const maestro_buf_t *b, int dev) {
  (void)b;
  (void)dev;
  return 0;
}
uint64_t ocl_transfer_cost_ns(const struct maestro_runtime *rt, int dev, size_t bytes) {
  (void)rt;
  (void)dev;
  (void)bytes;
  return 0;
}
void ocl_collect_device(struct maestro_runtime *rt, int dev, struct prof_place_rec *r) {
  (void)rt;
  (void)dev;
  (void)r;
}
