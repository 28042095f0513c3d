/* libFuzzer target: the stats segment reader. The input is the segment's
 * image, as maestro-top would map it from /dev/shm: attaching, validating
 * and snapshotting it must give a status and a message, never a crash, an
 * out-of-bounds read or undefined behaviour, and whatever it returns must
 * be what the reader promises (counts within the slots, names terminated). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prof/segment_reader.h"

/* A sequence word left odd makes the reader retry 20000 times (a writer
 * mid-update) before giving up: right, and tested by test_prof_segment, but
 * 50 ms an input. The sequence words the header points at are made even, so
 * that the fuzzer spends its time past them. */
static void even_sequences(uint8_t *img, size_t len) {
  struct prof_seg_header h;
  if (len < sizeof h) return;
  memcpy(&h, img, sizeof h);
  img[offsetof(struct prof_seg_header, live_seq)] &= (uint8_t)~1u;
  const uint64_t off[3] = {h.place_off, h.agent_off, h.chan_off};
  const uint32_t sz[3] = {h.place_slot_size, h.agent_slot_size, h.chan_slot_size};
  const uint32_t n[3] = {h.place_slots, h.agent_slots, h.chan_slots};
  for (int k = 0; k < 3; k++) {
    if (sz[k] < 8 || off[k] % 8) continue;
    for (uint64_t i = 0; i < n[k] && off[k] <= len && (len - off[k]) / sz[k] > i; i++)
      img[off[k] + i * sz[k]] &= (uint8_t)~1u;
  }
}

static void check_name(const char *s, size_t n) {
  if (!memchr(s, '\0', n)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size copy (malloc is 16-byte aligned): AddressSanitizer then
   * sees any read past the end of the image. */
  uint8_t *img = malloc(size ? size : 1);
  if (!img) return 0;
  if (size) memcpy(img, data, size);
  even_sequences(img, size);
  struct prof_reader *r = NULL;
  char err[256];
  err[0] = '\0';
  int rc = prof_reader_open_mem(img, size, &r, err, sizeof err);
  if (rc != PROF_READ_OK) {
    /* Every refusal says why. */
    if (r || !err[0]) abort();
    free(img);
    return 0;
  }
  const struct prof_seg_info *info = prof_reader_info(r);
  check_name(info->program, sizeof info->program);
  struct prof_snapshot s;
  err[0] = '\0';
  rc = prof_reader_snapshot(r, &s, err, sizeof err);
  if (rc == PROF_READ_OK) {
    if (s.n_places < 0 || s.n_agents < 0 || s.n_chans < 0) abort();
    if ((uint64_t)s.n_places != s.live.n_places || (uint64_t)s.n_agents != s.live.n_agents ||
        (uint64_t)s.n_chans != s.live.n_chans)
      abort();
    for (int i = 0; i < s.n_places; i++)
      check_name(s.places[i].name, sizeof s.places[i].name);
    for (int i = 0; i < s.n_agents; i++) {
      check_name(s.agents[i].name, sizeof s.agents[i].name);
      check_name(s.agents[i].graph, sizeof s.agents[i].graph);
      if (!prof_agent_state_name(s.agents[i].state)) abort();
    }
    for (int i = 0; i < s.n_chans; i++) {
      check_name(s.chans[i].graph, sizeof s.chans[i].graph);
      check_name(s.chans[i].from, sizeof s.chans[i].from);
      check_name(s.chans[i].to, sizeof s.chans[i].to);
    }
    prof_snapshot_free(&s);
  } else if (!err[0] || s.places || s.agents || s.chans) {
    abort();
  }
  prof_reader_close(r);
  free(img);
  return 0;
}
