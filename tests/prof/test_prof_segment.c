/* The live stats segment: layout round trip, sequence-lock consistency under
 * concurrent writers and a reader, the reader against truncated, foreign and
 * random segments, stale segment cleanup, MAESTRO_STATS on / off, names
 * squatted by another user, trace write errors. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/runtime.h"
#include "maestro.h"
#include "core/trace.h"
#include "prof/prof.h"
#include "prof/segment.h"
#include "prof/segment_reader.h"
#include "sched/place.h"
#include "testmain.h"

static struct prof_seg *make_seg(uint32_t places, uint32_t agents, uint32_t chans) {
  struct prof_seg_params p = {.ncpu = 2,
                              .ndev = 0,
                              .place_slots = places,
                              .agent_slots = agents,
                              .chan_slots = chans,
                              .start_mono_ns = rt_now_ns(),
                              .program = "test_prof"};
  struct prof_seg *s = NULL;
  char err[256];
  int rc = prof_seg_create(&p, &s, err, sizeof err);
  if (rc) fprintf(stderr, "prof_seg_create: %s\n", err);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  return s;
}

static void fill_agent(struct prof_agent_rec *a, uint64_t k) {
  memset(a, 0, sizeof *a);
  snprintf(a->name, sizeof a->name, "agent-%llu", (unsigned long long)k);
  snprintf(a->graph, sizeof a->graph, "g-%llu", (unsigned long long)k);
  a->place_kind = 0;
  a->place_index = (int32_t)(k % 7);
  a->state = PROF_AGENT_RUNNING;
  a->queue_depth = (uint32_t)k;
  a->fires = a->msgs_in = a->msgs_out = a->bytes_in = a->bytes_out = a->busy_ns = k;
  a->failures = a->retries = a->dead_letters = a->fallbacks = a->device_fires = k;
  /* Layout 3's fields, at the record's end: copied whole too. */
  a->cpu_place = (int32_t)(k % 7);
  a->flags = PROF_AGENT_F_CPU_PLACED | PROF_AGENT_F_HYBRID;
  a->n_est = PROF_EST_PLACES;
  a->est_ns[PROF_EST_PLACES - 1] = (int64_t)k;
  a->est_bytes = k;
}

/* Every field says the same k: a torn copy mixes two values. */
static int agent_consistent(const struct prof_agent_rec *a) {
  uint64_t k = a->fires;
  char name[PROF_NAME_LEN], graph[PROF_NAME_LEN];
  snprintf(name, sizeof name, "agent-%llu", (unsigned long long)k);
  snprintf(graph, sizeof graph, "g-%llu", (unsigned long long)k);
  if (a->cpu_place != (int32_t)(k % 7) || a->est_ns[PROF_EST_PLACES - 1] != (int64_t)k ||
      a->est_bytes != k || a->n_est != PROF_EST_PLACES)
    return 0;
  return !strcmp(a->name, name) && !strcmp(a->graph, graph) && a->queue_depth == (uint32_t)k &&
         a->place_index == (int32_t)(k % 7) && a->msgs_in == k && a->msgs_out == k &&
         a->bytes_in == k && a->bytes_out == k && a->busy_ns == k && a->failures == k &&
         a->retries == k && a->dead_letters == k && a->fallbacks == k && a->device_fires == k;
}

static void test_roundtrip(void) {
  struct prof_seg *s = make_seg(4, 16, 16);
  struct prof_place_rec pl = {.kind = 0, .index = 1, .agents = 2, .busy_ns = 5, .fires = 6};
  snprintf(pl.name, sizeof pl.name, "cpu 1");
  prof_seg_write_place(s, 0, &pl);
  struct prof_agent_rec a;
  fill_agent(&a, 42);
  prof_seg_write_agent(s, 0, &a);
  struct prof_chan_rec c = {.capacity = 8, .depth = 3, .msgs = 9, .bytes = 10, .bytes_h2d = 11};
  snprintf(c.graph, sizeof c.graph, "g");
  snprintf(c.from, sizeof c.from, "a.out");
  snprintf(c.to, sizeof c.to, "b.in");
  prof_seg_write_chan(s, 0, &c);
  struct prof_seg_live l = {.n_places = 1,
                            .n_agents = 1,
                            .n_chans = 1,
                            .agents_total = 1,
                            .chans_total = 1,
                            .n_graphs = 1,
                            .publishes = 1,
                            .publish_mono_ns = rt_now_ns()};
  prof_seg_write_live(s, &l);

  /* The object is the caller's, 0600, named after uid and pid. */
  char want[80];
  snprintf(want, sizeof want, "/maestro-%u-%d", (unsigned)getuid(), (int)getpid());
  CU_ASSERT_STRING_EQUAL(prof_seg_name(s), want);
  char path[128];
  snprintf(path, sizeof path, "/dev/shm%s", prof_seg_name(s));
  struct stat st;
  CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
  CU_ASSERT_EQUAL(st.st_uid, getuid());

  struct prof_reader *r;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_pid(getpid(), &r, err, sizeof err), PROF_READ_OK);
  const struct prof_seg_info *info = prof_reader_info(r);
  CU_ASSERT_EQUAL(info->pid, getpid());
  CU_ASSERT_STRING_EQUAL(info->program, "test_prof");
  CU_ASSERT_EQUAL(info->version, PROF_SEG_VERSION);
  struct prof_snapshot snap;
  CU_ASSERT_EQUAL_FATAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  CU_ASSERT_EQUAL(snap.n_places, 1);
  CU_ASSERT_EQUAL(snap.n_agents, 1);
  CU_ASSERT_EQUAL(snap.n_chans, 1);
  CU_ASSERT_STRING_EQUAL(snap.places[0].name, "cpu 1");
  CU_ASSERT_EQUAL(snap.places[0].fires, 6);
  CU_ASSERT(agent_consistent(&snap.agents[0]));
  CU_ASSERT_EQUAL(snap.agents[0].fires, 42);
  CU_ASSERT_STRING_EQUAL(snap.chans[0].to, "b.in");
  CU_ASSERT_EQUAL(snap.chans[0].bytes_h2d, 11);
  CU_ASSERT_EQUAL(snap.live.n_graphs, 1);
  prof_snapshot_free(&snap);
  prof_reader_close(r);
  prof_seg_destroy(s);
  CU_ASSERT_NOT_EQUAL(stat(path, &st), 0); /* removed */
}

/* ---- MAESTRO_RANK_ANY per-rank counts (layout version 4) ---- */

/* The owner's record of a RANK_ANY agent over `nranks` ranks: rank r
 * answered 1000 + r firings (ranks past PROF_RANK_FIRES summed). */
static void fill_owner(struct prof_agent_rec *a, int nranks) {
  memset(a, 0, sizeof *a);
  snprintf(a->name, sizeof a->name, "any");
  snprintf(a->graph, sizeof a->graph, "g");
  a->flags = PROF_AGENT_F_CPU_PLACED | PROF_AGENT_F_ANY_OWNER;
  a->nranks = nranks;
  a->served_for = -1;
  a->fires = 1000;
  for (int r = 0; r < nranks; r++) {
    if (r < PROF_RANK_FIRES)
      a->rank_fires[r] = 1000u + (uint64_t)r;
    else
      a->rank_fires_rest += 1000u + (uint64_t)r;
  }
}

static void test_rank_any_roundtrip(void) {
  struct prof_seg *s = make_seg(1, 4, 1);
  struct prof_agent_rec a;
  fill_owner(&a, 3);
  prof_seg_write_agent(s, 0, &a);
  fill_owner(&a, PROF_RANK_FIRES + 4); /* 20 ranks: 16 one by one, 4 summed */
  snprintf(a.graph, sizeof a.graph, "wide");
  prof_seg_write_agent(s, 1, &a);
  memset(&a, 0, sizeof a); /* the same agent on a serving rank */
  snprintf(a.name, sizeof a.name, "any");
  snprintf(a.graph, sizeof a.graph, "g");
  a.state = PROF_AGENT_REMOTE;
  a.flags = PROF_AGENT_F_ANY_SERVED;
  a.served_for = 0;
  a.served = 1001;
  a.fires = 1003; /* with two failed attempts, retried */
  prof_seg_write_agent(s, 2, &a);
  struct prof_seg_live l = {.n_agents = 3, .publish_mono_ns = rt_now_ns()};
  prof_seg_write_live(s, &l);

  struct prof_reader *r;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_name(prof_seg_name(s), &r, err, sizeof err), PROF_READ_OK);
  CU_ASSERT_EQUAL(prof_reader_info(r)->version, 4);
  struct prof_snapshot snap;
  CU_ASSERT_EQUAL_FATAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  CU_ASSERT_EQUAL_FATAL(snap.n_agents, 3);
  const struct prof_agent_rec *o = &snap.agents[0], *w = &snap.agents[1], *sv = &snap.agents[2];
  CU_ASSERT_EQUAL(o->flags, PROF_AGENT_F_CPU_PLACED | PROF_AGENT_F_ANY_OWNER);
  CU_ASSERT_EQUAL(o->nranks, 3);
  CU_ASSERT_EQUAL(o->served_for, -1);
  CU_ASSERT_EQUAL(o->served, 0);
  CU_ASSERT_EQUAL(o->rank_fires[0], 1000);
  CU_ASSERT_EQUAL(o->rank_fires[1], 1001);
  CU_ASSERT_EQUAL(o->rank_fires[2], 1002);
  CU_ASSERT_EQUAL(o->rank_fires[3], 0);
  CU_ASSERT_EQUAL(o->rank_fires_rest, 0);
  CU_ASSERT_EQUAL(w->nranks, PROF_RANK_FIRES + 4);
  CU_ASSERT_EQUAL(w->rank_fires[PROF_RANK_FIRES - 1], 1000 + PROF_RANK_FIRES - 1);
  CU_ASSERT_EQUAL(w->rank_fires_rest, 1016 + 1017 + 1018 + 1019);
  CU_ASSERT_EQUAL(sv->flags, PROF_AGENT_F_ANY_SERVED);
  CU_ASSERT_EQUAL(sv->state, PROF_AGENT_REMOTE);
  CU_ASSERT_EQUAL(sv->served_for, 0);
  CU_ASSERT_EQUAL(sv->served, 1001);
  CU_ASSERT_EQUAL(sv->fires, 1003);
  CU_ASSERT_EQUAL(sv->rank_fires[1], 0);
  prof_snapshot_free(&snap);
  prof_reader_close(r);

  /* A version 3 segment (agent slots without the RANK_ANY fields) is still
   * read: its records come back with those fields zero. Versions 2 and 5
   * are refused. */
  struct prof_seg_header *h = prof_seg_header(s);
  size_t len = h->total_size;
  unsigned char *img = aligned_alloc(8, (len + 7) & ~(size_t)7);
  memcpy(img, h, len);
  struct prof_seg_header *ih = (struct prof_seg_header *)img;
  ih->version = 3;
  ih->agent_slot_size = (uint32_t)(8 + offsetof(struct prof_agent_rec, nranks));
  /* Its slots as a version 3 writer lays them out: each record cut short. */
  for (uint32_t i = 0; i < 3; i++) {
    const unsigned char *from = (const unsigned char *)h + h->agent_off + h->agent_slot_size * i;
    memcpy(img + ih->agent_off + ih->agent_slot_size * i, from, ih->agent_slot_size);
  }
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_mem(img, len, &r, err, sizeof err), PROF_READ_OK);
  CU_ASSERT_EQUAL(prof_reader_info(r)->version, 3);
  CU_ASSERT_EQUAL_FATAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  CU_ASSERT_EQUAL_FATAL(snap.n_agents, 3);
  CU_ASSERT_STRING_EQUAL(snap.agents[0].name, "any");
  CU_ASSERT_EQUAL(snap.agents[0].fires, 1000);
  CU_ASSERT_EQUAL(snap.agents[0].nranks, 0);
  CU_ASSERT_EQUAL(snap.agents[0].rank_fires[0], 0);
  prof_snapshot_free(&snap);
  prof_reader_close(r);
  ih->version = 2;
  CU_ASSERT_EQUAL(prof_reader_open_mem(img, len, &r, err, sizeof err), PROF_READ_EVERSION);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "layout version 2, this maestro-top reads versions 3 to 4"));
  ih->version = PROF_SEG_VERSION + 1;
  CU_ASSERT_EQUAL(prof_reader_open_mem(img, len, &r, err, sizeof err), PROF_READ_EVERSION);
  free(img);
  prof_seg_destroy(s);
}

/* ---- sequence lock under load ---- */

enum { SEQ_SLOTS = 4, SEQ_READS = 2000000 };

struct writer_arg {
  struct prof_seg *seg;
  uint32_t first; /* writes slots first, first + 2, ...: one writer per slot */
  atomic_int *stop;
  uint64_t writes;
};

static void *writer_main(void *p) {
  struct writer_arg *w = p;
  uint64_t k = w->first * 1000000007ull;
  struct prof_agent_rec a;
  while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
    for (uint32_t i = w->first; i < SEQ_SLOTS; i += 2) {
      fill_agent(&a, ++k);
      prof_seg_write_agent(w->seg, i, &a);
      w->writes++;
    }
  }
  return NULL;
}

static void test_seqlock_concurrent(void) {
  struct prof_seg *s = make_seg(1, SEQ_SLOTS, 1);
  struct prof_agent_rec a;
  for (uint32_t i = 0; i < SEQ_SLOTS; i++) {
    fill_agent(&a, i);
    prof_seg_write_agent(s, i, &a);
  }
  struct prof_seg_live l = {.n_agents = SEQ_SLOTS, .publish_mono_ns = 1};
  prof_seg_write_live(s, &l);

  /* The reader maps the object on its own, as maestro-top does. */
  struct prof_reader *r;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_name(prof_seg_name(s), &r, err, sizeof err), PROF_READ_OK);
  int fd = shm_open(prof_seg_name(s), O_RDONLY, 0);
  CU_ASSERT_FATAL(fd >= 0);
  struct prof_seg_header *h = prof_seg_header(s);
  void *map = mmap(NULL, h->total_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  CU_ASSERT_FATAL(map != MAP_FAILED);
  const struct prof_seg_header *rh = map;

  atomic_int stop = 0;
  struct writer_arg w[2] = {{s, 0, &stop, 0}, {s, 1, &stop, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, writer_main, &w[i]);
  long torn = 0, ok = 0, busy = 0, reads = 0;
  /* SEQ_READS, or as many as fit in a few seconds: under tsan on a loaded
   * machine the spinning writers make each read cost far more. */
  uint64_t until = rt_now_ns() + 4000000000ull;
  for (long n = 0; n < SEQ_READS && ((n & 1023) || rt_now_ns() < until); n++, reads++) {
    uint32_t i = (uint32_t)(n % SEQ_SLOTS);
    const _Atomic uint64_t *slot =
        (const _Atomic uint64_t *)((const char *)map + rh->agent_off + rh->agent_slot_size * i);
    struct prof_agent_rec got;
    if (!prof_seqlock_read(slot, slot + 1, &got, sizeof got, 1000)) {
      busy++;
      continue;
    }
    ok++;
    if (!agent_consistent(&got)) torn++;
  }
  /* Whole snapshots through the reader module too. */
  until = rt_now_ns() + 2000000000ull;
  for (int n = 0; n < 2000 && ((n & 63) || rt_now_ns() < until); n++) {
    struct prof_snapshot snap;
    if (prof_reader_snapshot(r, &snap, err, sizeof err) != PROF_READ_OK) {
      busy++;
      continue;
    }
    for (int i = 0; i < snap.n_agents; i++)
      if (!agent_consistent(&snap.agents[i])) torn++;
    prof_snapshot_free(&snap);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  printf("\n    %ld consistent reads, %ld torn, %ld gave up; %llu + %llu writes\n", ok, torn, busy,
         (unsigned long long)w[0].writes, (unsigned long long)w[1].writes);
  CU_ASSERT_EQUAL(torn, 0);
  CU_ASSERT(reads >= 1024 && ok > reads / 2);
  CU_ASSERT(w[0].writes > 0 && w[1].writes > 0);
  munmap(map, rh->total_size);
  prof_reader_close(r);
  prof_seg_destroy(s);
}

/* ---- the reader against bad segments ---- */

/* A valid image of a small segment, copied out of shared memory. */
static unsigned char *valid_image(size_t *len) {
  struct prof_seg *s = make_seg(2, 3, 3);
  struct prof_agent_rec a;
  fill_agent(&a, 7);
  prof_seg_write_agent(s, 0, &a);
  struct prof_seg_live l = {.n_agents = 1, .n_places = 0, .n_chans = 0, .publish_mono_ns = 1};
  prof_seg_write_live(s, &l);
  struct prof_seg_header *h = prof_seg_header(s);
  *len = h->total_size;
  unsigned char *img = aligned_alloc(8, (*len + 7) & ~(size_t)7);
  memcpy(img, h, *len);
  prof_seg_destroy(s);
  return img;
}

/* Opens and snapshots `mem`: returns the status; the message must be set
 * on failure. Never crashes (ASan and UBSan watch in the debug preset). */
static int try_read(const void *mem, size_t len) {
  struct prof_reader *r;
  char err[256] = "";
  int rc = prof_reader_open_mem(mem, len, &r, err, sizeof err);
  if (rc) {
    CU_ASSERT(rc < 0 && err[0] != '\0');
    return rc;
  }
  struct prof_snapshot snap;
  rc = prof_reader_snapshot(r, &snap, err, sizeof err);
  if (rc == PROF_READ_OK) {
    for (int i = 0; i < snap.n_agents; i++)
      CU_ASSERT(strlen(snap.agents[i].name) < PROF_NAME_LEN);
    prof_snapshot_free(&snap);
  } else {
    CU_ASSERT(err[0] != '\0');
  }
  prof_reader_close(r);
  return rc;
}

static void test_reader_errors(void) {
  size_t len;
  unsigned char *img = valid_image(&len);
  unsigned char *buf = aligned_alloc(8, (len + 7) & ~(size_t)7);
  CU_ASSERT_EQUAL(try_read(img, len), PROF_READ_OK);

  /* Truncated at every 8 bytes. */
  for (size_t n = 0; n < len; n += 8) {
    memcpy(buf, img, n);
    int rc = try_read(buf, n);
    CU_ASSERT(rc == PROF_READ_ETRUNC || rc == PROF_READ_EMAGIC);
  }
  /* Wrong magic, zero magic, wrong version. */
  struct prof_seg_header *h = (struct prof_seg_header *)buf;
  memcpy(buf, img, len);
  atomic_store(&h->magic, 0x1234);
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_EMAGIC);
  atomic_store(&h->magic, 0);
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_EMAGIC);
  memcpy(buf, img, len);
  h->version = PROF_SEG_VERSION + 1;
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_EVERSION);
  /* Offsets and counts that point outside. */
  memcpy(buf, img, len);
  h->agent_off = len - 8;
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_ECORRUPT);
  memcpy(buf, img, len);
  h->agent_slot_size = 12;
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_ECORRUPT);
  memcpy(buf, img, len);
  h->total_size = (uint64_t)len * 2;
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_ETRUNC);
  memcpy(buf, img, len);
  h->live[1] = 1000; /* n_agents beyond the slots */
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_ECORRUPT);
  memcpy(buf, img, len);
  atomic_store(&h->live_seq, 1); /* a writer died holding the header */
  CU_ASSERT_EQUAL(try_read(buf, len), PROF_READ_EBUSY);

  /* Random bytes, and random mutations of a valid image. */
  unsigned seed = 12345;
  int ok = 0, bad = 0;
  for (int it = 0; it < 20000; it++) {
    size_t n;
    if (it % 2) {
      n = (size_t)rand_r(&seed) % (len + 1);
      for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)rand_r(&seed);
    } else {
      n = len;
      memcpy(buf, img, len);
      int flips = 1 + rand_r(&seed) % 8;
      for (int f = 0; f < flips; f++) {
        size_t at = (size_t)rand_r(&seed) % sizeof(struct prof_seg_header);
        buf[at] = (unsigned char)rand_r(&seed);
      }
    }
    if (try_read(buf, n) == PROF_READ_OK)
      ok++;
    else
      bad++;
  }
  printf("\n    fuzz: %d read, %d refused with a message\n", ok, bad);
  CU_ASSERT(bad > 0);
  free(buf);
  free(img);
}

static void test_open_missing(void) {
  struct prof_reader *r;
  char err[256] = "";
  /* pid 0x3fffffff is above any pid_max */
  CU_ASSERT_EQUAL(prof_reader_open_pid(0x3fffffff, &r, err, sizeof err), PROF_READ_ENOENT);
  CU_ASSERT(strstr(err, "no stats segment") != NULL);
  /* A garbage object under a Maestro name. */
  const char *name = "/maestro-test-garbage";
  int fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CU_ASSERT_FATAL(fd >= 0);
  char junk[4096];
  memset(junk, 0x5a, sizeof junk);
  CU_ASSERT_EQUAL(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
  close(fd);
  CU_ASSERT_EQUAL(prof_reader_open_name(name, &r, err, sizeof err), PROF_READ_EMAGIC);
  CU_ASSERT(strstr(err, "not a Maestro stats segment") != NULL);
  fd = shm_open(name, O_RDWR | O_TRUNC, 0600);
  close(fd);
  CU_ASSERT_EQUAL(prof_reader_open_name(name, &r, err, sizeof err), PROF_READ_ETRUNC);
  shm_unlink(name);
}

/* The object shrinks while a reader is attached: an error, not SIGBUS. */
static void test_truncated_while_attached(void) {
  struct prof_seg *s = make_seg(2, 8, 8);
  struct prof_seg_live l = {.n_agents = 0, .publish_mono_ns = 1};
  prof_seg_write_live(s, &l);
  struct prof_reader *r;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_name(prof_seg_name(s), &r, err, sizeof err), PROF_READ_OK);
  struct prof_snapshot snap;
  CU_ASSERT_EQUAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  prof_snapshot_free(&snap);
  int fd = shm_open(prof_seg_name(s), O_RDWR, 0);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(ftruncate(fd, 64), 0);
  close(fd);
  CU_ASSERT_EQUAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_ETRUNC);
  CU_ASSERT(strstr(err, "truncated") != NULL);
  prof_reader_close(r);
  prof_seg_destroy(s);
}

/* ---- stale segments ---- */

static void test_stale_cleanup(void) {
  /* A pid that is surely gone: a child that exited and was reaped. */
  pid_t child = fork();
  if (child == 0) _exit(0);
  CU_ASSERT_FATAL(child > 0);
  waitpid(child, NULL, 0);
  size_t len;
  unsigned char *img = valid_image(&len);
  ((struct prof_seg_header *)img)->pid = child;
  char name[80];
  snprintf(name, sizeof name, "/maestro-%u-%d", (unsigned)getuid(), (int)child);
  int fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(write(fd, img, len), (ssize_t)len);
  close(fd);
  free(img);

  struct prof_proc procs[64];
  int n = prof_list_segments(procs, 64, 0, NULL), found = 0;
  for (int i = 0; i < n && i < 64; i++)
    if (procs[i].pid == child) found = procs[i].stale ? 1 : -1;
  CU_ASSERT_EQUAL(found, 1); /* listed, stale */
  int cleaned = 0;
  n = prof_list_segments(procs, 64, 1, &cleaned);
  CU_ASSERT(cleaned >= 1);
  struct prof_reader *r;
  char err[256];
  CU_ASSERT_EQUAL(prof_reader_open_name(name, &r, err, sizeof err), PROF_READ_ENOENT);
}

/* ---- the runtime publishes, or not ---- */

static void test_runtime_stats_on_off(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 1;
  cfg.stats = 1;
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(prof_stats_name(rt));
  struct prof_reader *r;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_name(prof_stats_name(rt), &r, err, sizeof err),
                        PROF_READ_OK);
  prof_publish(rt);
  struct prof_snapshot snap;
  CU_ASSERT_EQUAL_FATAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  CU_ASSERT(snap.live.publishes >= 1);
  CU_ASSERT_EQUAL(snap.n_places, maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU));
  CU_ASSERT_STRING_EQUAL(snap.places[0].name, "cpu 0");
  prof_snapshot_free(&snap);
  char name[80];
  snprintf(name, sizeof name, "%s", prof_stats_name(rt));
  maestro_runtime_destroy(rt);
  /* Removed at exit; the mapping still holds the last snapshot, flagged. */
  CU_ASSERT_EQUAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  CU_ASSERT(snap.live.flags & PROF_SEG_F_CLOSING);
  prof_snapshot_free(&snap);
  prof_reader_close(r);
  struct prof_reader *r2;
  CU_ASSERT_EQUAL(prof_reader_open_name(name, &r2, err, sizeof err), PROF_READ_ENOENT);

  cfg.stats = 0;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT_PTR_NULL(prof_stats_name(rt));
  CU_ASSERT_FALSE(trace_on(rt));
  CU_ASSERT_EQUAL(prof_reader_open_pid(getpid(), &r2, err, sizeof err), PROF_READ_ENOENT);
  maestro_runtime_destroy(rt);

  /* MAESTRO_STATS=0 through the environment. */
  setenv("MAESTRO_STATS", "0", 1);
  maestro_config_defaults(&cfg);
  unsetenv("MAESTRO_STATS");
  CU_ASSERT_EQUAL(cfg.stats, 0);
}

/* ---- the publisher reads the collectors registered, naming none ---- */

static int fake_agents(struct maestro_runtime *rt, struct prof_agent_rec *r, int cap) {
  (void)rt;
  for (int i = 0; i < 2 && i < cap; i++) {
    memset(&r[i], 0, sizeof r[i]);
    snprintf(r[i].name, sizeof r[i].name, "extra%d", i);
    snprintf(r[i].graph, sizeof r[i].graph, "fake");
    r[i].fires = 10u + (uint64_t)i;
  }
  return 2;
}

static int fake_places(struct maestro_runtime *rt, struct prof_place_rec *r, int cap) {
  (void)rt;
  if (cap > 0 && r[0].kind == MAESTRO_PLACE_CPU) r[0].fires += 7;
  return 0;
}

static int fake_channels(struct maestro_runtime *rt, struct prof_chan_rec *r, int cap) {
  (void)rt;
  for (int i = 0; i < 3 && i < cap; i++) {
    memset(&r[i], 0, sizeof r[i]);
    snprintf(r[i].from, sizeof r[i].from, "a%d.out", i);
    r[i].msgs = 100u + (uint64_t)i;
  }
  return 3;
}

static const struct stats_collector fake = {
    .name = "fake", .places = fake_places, .agents = fake_agents, .channels = fake_channels};

static void test_collectors(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 1;
  cfg.stats = 1;
  /* The publisher thread stays asleep: the test registers after prof_init. */
  setenv("MAESTRO_STATS_INTERVAL_MS", "60000", 1);
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  unsetenv("MAESTRO_STATS_INTERVAL_MS");
  /* Each subsystem registered its own, at its own init, in bring-up order;
   * the OpenCL backend at its discovery, which is lazy. */
  CU_ASSERT_EQUAL_FATAL(stats_collectors(rt), 2);
  CU_ASSERT_STRING_EQUAL(rt->collectors[0]->name, "core");
  CU_ASSERT_STRING_EQUAL(rt->collectors[1]->name, "sched");
  CU_ASSERT_EQUAL_FATAL(place_discover(rt), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(stats_collectors(rt), 3);
  CU_ASSERT_STRING_EQUAL(rt->collectors[2]->name, "opencl");
  CU_ASSERT_EQUAL_FATAL(stats_register(rt, &fake), MAESTRO_OK);

  struct prof_reader *r;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_name(prof_stats_name(rt), &r, err, sizeof err),
                        PROF_READ_OK);
  prof_publish(rt);
  struct prof_snapshot snap;
  CU_ASSERT_EQUAL_FATAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  CU_ASSERT_EQUAL(snap.n_places, 1);
  CU_ASSERT_EQUAL(snap.places[0].fires, 7); /* the scheduler's 0, then the fake's 7 */
  CU_ASSERT_EQUAL_FATAL(snap.n_agents, 2);  /* no graph: core has none */
  CU_ASSERT_STRING_EQUAL(snap.agents[0].name, "extra0");
  CU_ASSERT_STRING_EQUAL(snap.agents[1].name, "extra1");
  CU_ASSERT_EQUAL(snap.agents[1].fires, 11);
  CU_ASSERT_EQUAL(snap.live.n_graphs, 1);
  CU_ASSERT_EQUAL_FATAL(snap.n_chans, 3);
  CU_ASSERT_STRING_EQUAL(snap.chans[2].from, "a2.out");
  CU_ASSERT_EQUAL(snap.chans[2].msgs, 102);
  prof_snapshot_free(&snap);
  prof_reader_close(r);

  /* The table is bounded: the one past it is refused, by name. */
  int n = stats_collectors(rt);
  for (int i = n; i < STATS_MAX_COLLECTORS; i++)
    CU_ASSERT_EQUAL(stats_register(rt, &fake), MAESTRO_OK);
  CU_ASSERT_EQUAL(stats_register(rt, &fake), MAESTRO_ENOMEM);
  CU_ASSERT(strstr(maestro_last_error(), "'fake'") != NULL);
  CU_ASSERT_EQUAL(stats_collectors(rt), STATS_MAX_COLLECTORS);
  CU_ASSERT_EQUAL(stats_register(rt, NULL), MAESTRO_EINVAL);
  maestro_runtime_destroy(rt);
}

static void test_trace_open_error(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.trace = "/nonexistent-dir/run.json";
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(rt);
  CU_ASSERT(strstr(maestro_last_error(), "/nonexistent-dir/run.json") != NULL);
}

/* ---- names squatted by another user ---- */

/* The name this process's next segment gets: the index after the last. */
static void next_seg_name(char *buf, size_t n) {
  struct prof_seg *s = make_seg(1, 1, 1);
  const char *dot = strrchr(prof_seg_name(s), '.');
  int next = dot ? atoi(dot + 1) + 1 : 1;
  prof_seg_destroy(s);
  snprintf(buf, n, "/maestro-%u-%d.%d", (unsigned)getuid(), (int)getpid(), next);
}

enum squat_kind { SQUAT_FIFO, SQUAT_LINK, SQUAT_FOREIGN };

/* Puts something not ours at /dev/shm`name` (`img`: a segment image that
 * says it is ours); 0 when it cannot be made here (a file of another owner
 * needs root). */
static int squat(enum squat_kind kind, const char *name, const char *link_target,
                 const unsigned char *img, size_t len) {
  char path[128];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  if (kind == SQUAT_FIFO) return mkfifo(path, 0666) == 0;
  if (kind == SQUAT_LINK) return symlink(link_target, path) == 0;
  if (geteuid() != 0) return 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  int ok = fd >= 0 && write(fd, img, len) == (ssize_t)len && fchown(fd, 65534, 65534) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static int squat_intact(enum squat_kind kind, const char *name) {
  char path[128];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  struct stat st;
  if (lstat(path, &st) != 0) return 0;
  if (kind == SQUAT_FIFO) return S_ISFIFO(st.st_mode);
  if (kind == SQUAT_LINK) return S_ISLNK(st.st_mode);
  return S_ISREG(st.st_mode) && st.st_uid == 65534;
}

/* A FIFO, a link or another user's file under the name the runtime's
 * segment would get: the runtime publishes under another name, says where
 * (prof_stats_error, and stderr once), leaves the squat alone; the reader
 * refuses the squat without blocking. */
static void test_squatted_name(void) {
  char target[] = "/tmp/maestro-squat-XXXXXX";
  int tfd = mkstemp(target);
  CU_ASSERT_FATAL(tfd >= 0);
  size_t len;
  unsigned char *img = valid_image(&len); /* forged: says it is this process's */
  struct prof_seg_header *h = (struct prof_seg_header *)img;
  h->pid = (int32_t)getpid();
  snprintf(h->program, sizeof h->program, "forged");
  CU_ASSERT_EQUAL(write(tfd, img, len), (ssize_t)len);
  close(tfd);
  /* stderr into a file, to count the warnings */
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  FILE *cap = tmpfile();
  CU_ASSERT_FATAL(saved >= 0 && cap != NULL);
  dup2(fileno(cap), STDERR_FILENO);
  alarm(60); /* a reader that blocks on the FIFO fails the test, not the suite's timeout */
  int made = 0;
  for (int kind = SQUAT_FIFO; kind <= SQUAT_FOREIGN; kind++) {
    char name[80];
    next_seg_name(name, sizeof name);
    if (!squat((enum squat_kind)kind, name, target, img, len)) {
      CU_ASSERT_EQUAL(kind, SQUAT_FOREIGN); /* only that one may be impossible */
      continue;
    }
    made++;
    maestro_config_t cfg;
    maestro_config_defaults(&cfg);
    cfg.devices = "none";
    cfg.ncpu = 1;
    cfg.stats = 1;
    maestro_runtime_t *rt;
    CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
    const char *at = prof_stats_name(rt);
    CU_ASSERT_PTR_NOT_NULL(at);
    if (at) {
      CU_ASSERT_STRING_NOT_EQUAL(at, name);
      const char *why = prof_stats_error(rt);
      CU_ASSERT_PTR_NOT_NULL(why);
      char want[200];
      snprintf(want, sizeof want, "/dev/shm%s is ", name);
      CU_ASSERT(why && strstr(why, want) == why);
      snprintf(want, sizeof want, "stats are at /dev/shm%s", at);
      CU_ASSERT(why && strstr(why, want) != NULL);
      struct prof_reader *r;
      char err[256];
      CU_ASSERT_EQUAL(prof_reader_open_name(at, &r, err, sizeof err), PROF_READ_OK);
      if (r) {
        struct prof_snapshot snap;
        CU_ASSERT_EQUAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
        CU_ASSERT_EQUAL(snap.n_places, 1);
        CU_ASSERT_STRING_EQUAL(snap.info.program, program_invocation_short_name);
        prof_snapshot_free(&snap);
        prof_reader_close(r);
      }
    }
    CU_ASSERT(squat_intact((enum squat_kind)kind, name));
    struct prof_reader *r = NULL;
    char err[256] = "";
    CU_ASSERT_EQUAL(prof_reader_open_name(name, &r, err, sizeof err), PROF_READ_EFOREIGN);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT(strstr(err, kind == SQUAT_FIFO   ? "a FIFO"
                          : kind == SQUAT_LINK ? "symbolic link"
                                               : "uid 65534") != NULL);
    maestro_runtime_destroy(rt);
    CU_ASSERT(squat_intact((enum squat_kind)kind, name));
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    unlink(path);
  }
  alarm(0);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char text[4096] = "";
  rewind(cap);
  size_t got = fread(text, 1, sizeof text - 1, cap);
  text[got] = '\0';
  fclose(cap);
  unlink(target);
  free(img);
  int warnings = 0;
  for (const char *p = text; (p = strstr(p, "maestro: warning: ")) != NULL; p++)
    warnings++;
  CU_ASSERT(made >= 2);
  CU_ASSERT_EQUAL(warnings, 1); /* once per process */
  CU_ASSERT(strstr(text, "stats are at /dev/shm/maestro-") != NULL);
}

/* ---- trace write errors ---- */

/* /dev/full takes the open and refuses every write: the runtime is not
 * created, with a message saying why. */
static void test_trace_dev_full(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.trace = "/dev/full";
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_ESYS);
  CU_ASSERT_PTR_NULL(rt);
  CU_ASSERT(strstr(maestro_last_error(), "MAESTRO_TRACE='/dev/full'") != NULL);
  CU_ASSERT(strstr(maestro_last_error(), "No space left on device") != NULL);
  if (rt) maestro_runtime_destroy(rt);
}

/* Writes that start failing mid-run (a file size limit, in a child):
 * prof_trace_flush returns MAESTRO_ESYS every time after, and stderr says
 * so exactly once. */
static void test_trace_write_fails(void) {
  char dir[] = "/tmp/maestro-trace-XXXXXX";
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
  char trace[96], errpath[96];
  snprintf(trace, sizeof trace, "%s/run.json", dir);
  snprintf(errpath, sizeof errpath, "%s/stderr", dir);
  fflush(NULL);
  pid_t child = fork();
  CU_ASSERT_FATAL(child >= 0);
  if (child == 0) {
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {128 << 10, 128 << 10};
    setrlimit(RLIMIT_FSIZE, &lim);
    maestro_config_t cfg;
    maestro_config_defaults(&cfg);
    cfg.devices = "none";
    cfg.ncpu = 1;
    cfg.stats = 0;
    cfg.trace = trace;
    maestro_runtime_t *rt;
    if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) _exit(10);
    for (int i = 0; i < 20000; i++)
      trace_firing(rt, MAESTRO_PLACE_CPU, 0, "a", (uint64_t)i, 8, 1000 + 10 * (uint64_t)i,
                   1005 + 10 * (uint64_t)i, 0, 0);
    int rc1 = prof_trace_flush(rt);
    int said = strstr(maestro_last_error(), "File too large") != NULL;
    int rc2 = prof_trace_flush(rt);
    maestro_runtime_destroy(rt);
    _exit(rc1 == MAESTRO_ESYS && rc2 == MAESTRO_ESYS && said ? 0 : 11);
  }
  int status = 0;
  CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
  CU_ASSERT(WIFEXITED(status));
  CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
  char text[4096] = "";
  FILE *f = fopen(errpath, "r");
  CU_ASSERT_FATAL(f != NULL);
  size_t got = fread(text, 1, sizeof text - 1, f);
  text[got] = '\0';
  fclose(f);
  int n = 0;
  for (const char *p = text; (p = strstr(p, "writing the trace file failed")) != NULL; p++)
    n++;
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT(strstr(text, trace) != NULL && strstr(text, "File too large") != NULL);
  unlink(trace);
  unlink(errpath);
  rmdir(dir);
}

/* ---- the trace's signal handlers (issue 12) ---- */

static int sig_is_default(int sig) {
  struct sigaction sa;
  sigaction(sig, NULL, &sa);
  return sa.sa_handler == SIG_DFL;
}

/* SIGTERM / SIGINT get a handler only while a trace is open, only where
 * they had their default action, and get it back when the last trace
 * closes; a program's own handler is left alone. maestro_trace_flush
 * refuses NULL and is a no-op without a trace. */
static void test_trace_signal_handlers(void) {
  char path[] = "/tmp/maestro-sig-XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 1;
  maestro_runtime_t *rt, *rt2;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT(sig_is_default(SIGTERM) && sig_is_default(SIGINT));
  CU_ASSERT_EQUAL(maestro_trace_flush(rt), MAESTRO_OK);
  maestro_runtime_destroy(rt);
  CU_ASSERT_EQUAL(maestro_trace_flush(NULL), MAESTRO_EINVAL);

  cfg.trace = path;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT(!sig_is_default(SIGTERM) && !sig_is_default(SIGINT));
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt2), MAESTRO_OK);
  maestro_runtime_destroy(rt);
  CU_ASSERT(!sig_is_default(SIGTERM)); /* rt2 still traces */
  CU_ASSERT_EQUAL(maestro_trace_flush(rt2), MAESTRO_OK);
  maestro_runtime_destroy(rt2);
  CU_ASSERT(sig_is_default(SIGTERM) && sig_is_default(SIGINT));

  /* A program's own SIGINT handler stays. */
  struct sigaction mine = {.sa_handler = SIG_IGN}, got;
  sigemptyset(&mine.sa_mask);
  sigaction(SIGINT, &mine, NULL);
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  sigaction(SIGINT, NULL, &got);
  CU_ASSERT(got.sa_handler == SIG_IGN);
  CU_ASSERT(!sig_is_default(SIGTERM));
  maestro_runtime_destroy(rt);
  sigaction(SIGINT, NULL, &got);
  CU_ASSERT(got.sa_handler == SIG_IGN);
  mine.sa_handler = SIG_DFL;
  sigaction(SIGINT, &mine, NULL);
  unlink(path);
}

void register_suites(void) {
  ADD_SUITE("prof_segment", NULL, NULL, {"layout round trip", test_roundtrip},
            {"MAESTRO_RANK_ANY per-rank counts, version 3 still read", test_rank_any_roundtrip},
            {"seqlock: no torn record under concurrent writers", test_seqlock_concurrent},
            {"reader: truncated, foreign, random segments", test_reader_errors},
            {"reader: missing and garbage objects", test_open_missing},
            {"reader: object truncated while attached", test_truncated_while_attached},
            {"stale segment cleanup", test_stale_cleanup},
            {"runtime: MAESTRO_STATS on and off", test_runtime_stats_on_off},
            {"collectors: the publisher reads what is registered", test_collectors},
            {"trace: unwritable file", test_trace_open_error},
            {"squatted name: runtime moves, reader refuses", test_squatted_name},
            {"trace: /dev/full", test_trace_dev_full},
            {"trace: writes failing mid-run", test_trace_write_fails},
            {"trace: signal handlers only while tracing", test_trace_signal_handlers});
}
