// The kernels of kernels.c as a Node-API addon for x86-64 with AVX2 + FMA (built by scripts/build-native.sh
// with -mavx2 -mfma; native_module.c checks the CPU before anything here runs). Each `create()` returns a
// kernel object with its own float heap (a JS ArrayBuffer the caller grows) and its own helper thread:
// GEMMs are split by output columns (tall ones by rows), cell steps and the softmax by batch rows, Adam and
// the gradient norm by halves. Every offset is an element
// index into the heap and is bounds-checked, so a wrong offset is a JS RangeError, never a wild write.
#define EXPORT(name) static void name
#define EXPORT_INT(name) static int name
#include "kernels.c"

#define NAPI_VERSION 8
#include <node_api.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ---- a second thread ------------------------------------------------------------------------------
// The caller posts the helper's half, runs its own half, then joins. The helper spins briefly between
// calls (they come every few dozen microseconds in BPTT), then sleeps on a condition variable. Whoever
// claims a posted task first runs it: on a loaded machine the caller does the work instead of waiting for a
// helper that is not scheduled.

typedef void (*task_fn)(const int64_t *args);

typedef struct {
  pthread_t thread;
  int started;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  atomic_uint posted, claimed, done;
  atomic_int sleeping, quit;
  task_fn fn;
  int64_t args[24];
} Helper;

#define HELPER_SPIN_NS 300000L

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void *helper_main(void *arg) {
  Helper *h = arg;
  unsigned seen = 0;
  for (;;) {
    const long spin_until = now_ns() + HELPER_SPIN_NS;
    while (atomic_load(&h->posted) == seen && !atomic_load(&h->quit)) {
      if (now_ns() < spin_until) {
        _mm_pause();
        continue;
      }
      pthread_mutex_lock(&h->mutex);
      atomic_store(&h->sleeping, 1);
      while (atomic_load(&h->posted) == seen && !atomic_load(&h->quit)) pthread_cond_wait(&h->wake, &h->mutex);
      atomic_store(&h->sleeping, 0);
      pthread_mutex_unlock(&h->mutex);
    }
    if (atomic_load(&h->quit)) return NULL;
    seen = atomic_load(&h->posted);
    unsigned expected = seen - 1;
    if (!atomic_compare_exchange_strong(&h->claimed, &expected, seen)) continue; // the caller took it
    h->fn(h->args);
    atomic_store(&h->done, seen);
  }
}

static int helper_start(Helper *h) {
  if (h->started) return 1;
  pthread_mutex_init(&h->mutex, NULL);
  pthread_cond_init(&h->wake, NULL);
  atomic_init(&h->posted, 0);
  atomic_init(&h->claimed, 0);
  atomic_init(&h->done, 0);
  atomic_init(&h->sleeping, 0);
  atomic_init(&h->quit, 0);
  if (pthread_create(&h->thread, NULL, helper_main, h) != 0) return 0;
  h->started = 1;
  return 1;
}

static void helper_post(Helper *h, task_fn fn, const int64_t *args, int n) {
  h->fn = fn;
  memcpy(h->args, args, (size_t)n * sizeof(int64_t));
  atomic_fetch_add(&h->posted, 1);
  if (atomic_load(&h->sleeping)) {
    pthread_mutex_lock(&h->mutex);
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->mutex);
  }
}

static void helper_join(Helper *h) {
  const unsigned seq = atomic_load(&h->posted);
  unsigned expected = seq - 1;
  if (atomic_compare_exchange_strong(&h->claimed, &expected, seq)) {
    h->fn(h->args); // not started yet: cheaper to run it here than to wait
    return;
  }
  for (int spins = 0; atomic_load(&h->done) != seq; spins++) {
    if (spins < 4000) _mm_pause();
    else sched_yield();
  }
}

static void helper_stop(Helper *h) {
  if (!h->started) return;
  pthread_mutex_lock(&h->mutex);
  atomic_store(&h->quit, 1);
  pthread_cond_signal(&h->wake);
  pthread_mutex_unlock(&h->mutex);
  pthread_join(h->thread, NULL);
  pthread_cond_destroy(&h->wake);
  pthread_mutex_destroy(&h->mutex);
  h->started = 0;
}

// ---- one kernel object ----------------------------------------------------------------------------

typedef struct {
  float *heap;
  int64_t floats;
  napi_ref heapRef;
  int32_t *tokens;
  int64_t tokenCount;
  float *scratch[2];
  float *stats; // softmax_xent's per-row statistics
  int64_t statsRows;
  float *shared; // a product's B packed once for both threads (gemm_blocks), the softmax's second column sums
  int64_t sharedFloats;
  Helper helper;
  int threads;  // 2 when the helper exists
  int parallel; // whether the helper is used now
  int disposed;
} Native;

/** Below this many multiply-adds a GEMM stays on one thread (a hand-off costs microseconds). */
#define PARALLEL_FMAS (1L << 17)

static void native_free(Native *s, napi_env env) {
  if (s->disposed) return;
  s->disposed = 1;
  helper_stop(&s->helper);
  if (s->heapRef && env) napi_delete_reference(env, s->heapRef);
  s->heapRef = NULL;
  s->heap = NULL;
  s->floats = 0;
  free(s->tokens);
  s->tokens = NULL;
  free(s->scratch[0]);
  free(s->scratch[1]);
  s->scratch[0] = s->scratch[1] = NULL;
  free(s->stats);
  s->stats = NULL;
  s->statsRows = 0;
  free(s->shared);
  s->shared = NULL;
  s->sharedFloats = 0;
}

static void native_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  native_free(data, env);
  free(data);
}

// Column split of a two-thread GEMM on a register-tile boundary (a packed weight is one layout either way).
static int split_at(const Native *s, int N) { return s->threads < 2 ? N : gemm_split_columns(N); }

// Tall products split by rows instead: kernels.c gemm_split_rows.

// Tasks run on either thread: arguments as int64 (pointers and ints).
static void task_gemm(const int64_t *a) {
  gemm((int)a[0], (int)a[1], (int)a[2], (const float *)a[3], (int)a[4], (int)a[5], (const float *)a[6], (int)a[7],
       (float *)a[8], (int)a[9], (int)a[10], (float *)a[11]);
}
static void task_gemm_prepacked(const int64_t *a) {
  gemm_prepacked((int)a[0], (int)a[1], (int)a[2], (const float *)a[3], (int)a[4], (int)a[5], (const float *)a[6], (int)a[7],
                 (int)a[8], (float *)a[9], (int)a[10], (int)a[11], (float *)a[12]);
}

/** Runs `fn` on (mine) here and (theirs) on the helper when parallel, else both here. */
static void run_pair(Native *s, task_fn fn, const int64_t *mine, const int64_t *theirs, int n) {
  if (s->parallel && helper_start(&s->helper)) {
    helper_post(&s->helper, fn, theirs, n);
    fn(mine);
    helper_join(&s->helper);
  } else {
    fn(mine);
    fn(theirs);
  }
}

/**
 * A big product on both threads block by block (kernels.c gemm_blocks_*); 0 when it is too small for that or
 * would make fewer than two blocks (the caller then splits it in fixed halves).
 */
static void task_gemm_blocks(const int64_t *a) { gemm_blocks_run_thread((GemmBlocks *)a[0], (float *)a[1]); }
static int run_blocks(Native *s, int M, int N, int K, const float *a, int ars, int acs, const float *packed, float *c, int ldc, int acc) {
  if (!s->parallel || s->threads < 2 || (long)M * N * K < GEMM_BLOCKS_MIN_FMAS) return 0;
  GemmBlocks g;
  if (gemm_blocks_setup(&g, M, N, K, a, ars, acs, packed, c, ldc, acc, gemm_split_rows(M, N) > 0) < 2) return 0;
  const int64_t mine[] = {(int64_t)&g, (int64_t)s->scratch[0]}, theirs[] = {(int64_t)&g, (int64_t)s->scratch[1]};
  run_pair(s, task_gemm_blocks, mine, theirs, 2);
  return 1;
}

/** s->shared with room for `floats` (a product's B packed for both threads, the softmax's second column sums). */
static float *shared_buffer(Native *s, int64_t floats) {
  if (floats > s->sharedFloats) {
    float *grown = aligned_alloc(64, ((size_t)floats * sizeof(float) + 63) & ~(size_t)63);
    if (!grown) return NULL;
    free(s->shared);
    s->shared = grown;
    s->sharedFloats = floats;
  }
  return s->shared;
}

// ---- argument handling ----------------------------------------------------------------------------

/** False (with a JS error) once the kernel object was disposed. */
static int alive(napi_env env, const Native *s) {
  if (!s->disposed) return 1;
  napi_throw_error(env, NULL, "native kernels were disposed");
  return 0;
}

#define MAX_ARGS 20

typedef struct {
  napi_env env;
  Native *s;
  int32_t v[MAX_ARGS];
  int ok;
} Args;

static Args read_args(napi_env env, napi_callback_info info, size_t n) {
  Args r = {env, NULL, {0}, 0};
  napi_value argv[MAX_ARGS];
  size_t argc = MAX_ARGS;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return r;
  r.s = data;
  if (!alive(env, r.s)) return r;
  if (argc < n) {
    napi_throw_type_error(env, NULL, "native kernel called with too few arguments");
    return r;
  }
  for (size_t i = 0; i < n; i++) {
    if (napi_get_value_int32(env, argv[i], &r.v[i]) != napi_ok) {
      bool flag;
      if (napi_get_value_bool(env, argv[i], &flag) != napi_ok) {
        napi_throw_type_error(env, NULL, "native kernel arguments must be integers");
        return r;
      }
      r.v[i] = flag;
    }
  }
  r.ok = 1;
  return r;
}

/** Heap pointer for [off, off + extent) after a bounds check; NULL (with a JS RangeError) when outside. */
static float *span(Args *r, int32_t off, int64_t extent) {
  if (!r->ok) return NULL;
  if (off < 0 || extent < 0 || (int64_t)off + extent > r->s->floats) {
    napi_throw_range_error(r->env, NULL, "native kernel offset outside the heap");
    r->ok = 0;
    return NULL;
  }
  return r->s->heap + off;
}

/** Elements a strided matrix [rows, cols] touches: (rows-1)*rs + (cols-1)*cs + 1. */
static int64_t extent2(int rows, int cols, int rs, int cs) {
  if (rows <= 0 || cols <= 0) return 0;
  return (int64_t)(rows - 1) * rs + (int64_t)(cols - 1) * cs + 1;
}

static int tokens_ok(Args *r, int rows) {
  if (r->ok && rows > r->s->tokenCount) {
    napi_throw_range_error(r->env, NULL, "more rows than tokens were set");
    r->ok = 0;
  }
  return r->ok;
}

/** The largest token id of tokens [first, first + rows) (a RangeError for a negative one). */
static int32_t token_bound(Args *r, int first, int rows) {
  int32_t lo = 0, hi = 0;
  for (int i = first; i < first + rows; i++) {
    const int32_t t = r->s->tokens[i];
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  if (lo < 0) {
    napi_throw_range_error(r->env, NULL, "negative token id");
    r->ok = 0;
  }
  return hi;
}

// ---- bindings -------------------------------------------------------------------------------------

/** The first argument (undefined when missing) and the kernel object a binding belongs to. */
static Native *first_arg(napi_env env, napi_callback_info info, napi_value *arg) {
  size_t argc = 1;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, arg, NULL, &data);
  if (argc < 1) napi_get_undefined(env, arg);
  return data;
}

static napi_value set_heap(napi_env env, napi_callback_info info) {
  napi_value arg;
  Native *s = first_arg(env, info, &arg);
  if (!alive(env, s)) return NULL;
  void *bytes = NULL;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, arg, &bytes, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "setHeap expects an ArrayBuffer");
    return NULL;
  }
  if (s->heapRef) napi_delete_reference(env, s->heapRef);
  napi_create_reference(env, arg, 1, &s->heapRef); // keeps the buffer alive while the kernels use it
  s->heap = bytes;
  s->floats = (int64_t)(length / sizeof(float));
  return NULL;
}

static napi_value set_tokens(napi_env env, napi_callback_info info) {
  napi_value arg;
  Native *s = first_arg(env, info, &arg);
  if (!alive(env, s)) return NULL;
  bool isTyped = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *values = NULL;
  if (napi_is_typedarray(env, arg, &isTyped) != napi_ok || !isTyped
      || napi_get_typedarray_info(env, arg, &type, &length, &values, NULL, NULL) != napi_ok || type != napi_int32_array) {
    napi_throw_type_error(env, NULL, "setTokens expects an Int32Array");
    return NULL;
  }
  if ((int64_t)length > s->tokenCount || !s->tokens) {
    int32_t *grown = realloc(s->tokens, (length ? length : 1) * sizeof(int32_t));
    if (!grown) {
      napi_throw_error(env, NULL, "out of memory for tokens");
      return NULL;
    }
    s->tokens = grown;
  }
  memcpy(s->tokens, values, length * sizeof(int32_t));
  s->tokenCount = (int64_t)length;
  return NULL;
}

static napi_value js_packed_size(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 2);
  if (!r.ok) return NULL;
  napi_value out;
  napi_create_int32(env, packed_b_floats(r.v[0], r.v[1]), &out);
  return out;
}

static napi_value js_pack_b(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 5);
  if (!r.ok) return NULL;
  const int K = r.v[0], N = r.v[1], ldb = r.v[3];
  const float *b = span(&r, r.v[2], extent2(K, N, ldb, 1));
  float *dst = span(&r, r.v[4], packed_b_floats(K, N));
  if (!r.ok) return NULL;
  pack_b_full(K, N, b, ldb, dst);
  return NULL;
}

/** packBT(K, N, w, ldw, dst): packB of B = W^T for W [N, K] (leading dimension ldw). */
static napi_value js_pack_bt(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 5);
  if (!r.ok) return NULL;
  const int K = r.v[0], N = r.v[1], ldw = r.v[3];
  const float *w = span(&r, r.v[2], extent2(N, K, ldw, 1));
  float *dst = span(&r, r.v[4], packed_b_floats(K, N));
  if (!r.ok) return NULL;
  pack_bt_full(K, N, w, ldw, dst);
  return NULL;
}

/**
 * C (+)= A·B with B packed whole (pack_b_full): a big product block by block on both threads, else in fixed halves
 * (by rows for tall products, so each thread packs only its rows of A; else by columns), small ones on this thread.
 */
static void product_prepacked(Native *s, int M, int N, int K, const float *a, int ars, int acs, const float *packed, float *c, int ldc,
                              int acc) {
  if (!s->parallel || (long)M * N * K < PARALLEL_FMAS || (split_at(s, N) == N && !gemm_split_rows(M, N))) {
    gemm_prepacked(M, N, K, a, ars, acs, packed, N, 0, c, ldc, acc, s->scratch[0]);
    return;
  }
  if (run_blocks(s, M, N, K, a, ars, acs, packed, c, ldc, acc)) return;
  const int m0 = gemm_split_rows(M, N);
  if (m0) {
    const int64_t top[] = {m0, N, K, (int64_t)a, ars, acs, (int64_t)packed, N, 0, (int64_t)c, ldc, acc, (int64_t)s->scratch[0]};
    const int64_t bottom[] = {M - m0, N, K, (int64_t)(a + (int64_t)m0 * ars), ars, acs, (int64_t)packed, N, 0, (int64_t)(c + (int64_t)m0 * ldc),
                              ldc, acc, (int64_t)s->scratch[1]};
    run_pair(s, task_gemm_prepacked, top, bottom, 13);
    return;
  }
  const int n0 = split_at(s, N);
  const int64_t left[] = {M, n0, K, (int64_t)a, ars, acs, (int64_t)packed, N, 0, (int64_t)c, ldc, acc, (int64_t)s->scratch[0]};
  const int64_t right[] = {M, N - n0, K, (int64_t)a, ars, acs, (int64_t)packed, N, n0, (int64_t)(c + n0), ldc, acc, (int64_t)s->scratch[1]};
  run_pair(s, task_gemm_prepacked, left, right, 13);
}

static napi_value js_gemm(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 11);
  if (!r.ok) return NULL;
  const int M = r.v[0], N = r.v[1], K = r.v[2], ars = r.v[4], acs = r.v[5], ldb = r.v[7], ldc = r.v[9], acc = r.v[10];
  const float *a = span(&r, r.v[3], extent2(M, K, ars, acs));
  const float *b = span(&r, r.v[6], extent2(K, N, ldb, 1));
  float *c = span(&r, r.v[8], extent2(M, N, ldc, 1));
  if (!r.ok || M <= 0 || N <= 0) return NULL;
  Native *s = r.s;
  const int n0 = split_at(s, N);
  if (!s->parallel || (long)M * N * K < PARALLEL_FMAS || (n0 == N && !gemm_split_rows(M, N))) {
    gemm(M, N, K, a, ars, acs, b, ldb, c, ldc, acc, s->scratch[0]);
    return NULL;
  }
  // Both threads use one packing of B where each would otherwise pack it whole (row blocks, rows split in halves).
  float *packed = (long)M * N * K >= GEMM_BLOCKS_MIN_FMAS || gemm_split_rows(M, N) ? shared_buffer(s, packed_b_floats(K, N)) : NULL;
  if (packed) {
    pack_b_full(K, N, b, ldb, packed);
    product_prepacked(s, M, N, K, a, ars, acs, packed, c, ldc, acc);
    return NULL;
  }
  const int m0 = gemm_split_rows(M, N);
  if (m0) {
    const int64_t mine[] = {m0, N, K, (int64_t)a, ars, acs, (int64_t)b, ldb, (int64_t)c, ldc, acc, (int64_t)s->scratch[0]};
    const int64_t theirs[] = {M - m0, N, K, (int64_t)(a + (int64_t)m0 * ars), ars, acs, (int64_t)b, ldb, (int64_t)(c + (int64_t)m0 * ldc), ldc, acc,
                              (int64_t)s->scratch[1]};
    run_pair(s, task_gemm, mine, theirs, 12);
    return NULL;
  }
  const int64_t mine[] = {M, n0, K, (int64_t)a, ars, acs, (int64_t)b, ldb, (int64_t)c, ldc, acc, (int64_t)s->scratch[0]};
  const int64_t theirs[] = {M, N - n0, K, (int64_t)a, ars, acs, (int64_t)(b + n0), ldb, (int64_t)(c + n0), ldc, acc, (int64_t)s->scratch[1]};
  run_pair(s, task_gemm, mine, theirs, 12);
  return NULL;
}

static napi_value js_gemm_packed(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 10);
  if (!r.ok) return NULL;
  const int M = r.v[0], N = r.v[1], K = r.v[2], ars = r.v[4], acs = r.v[5], ldc = r.v[8], acc = r.v[9];
  const float *a = span(&r, r.v[3], extent2(M, K, ars, acs));
  const float *packed = span(&r, r.v[6], packed_b_floats(K, N));
  float *c = span(&r, r.v[7], extent2(M, N, ldc, 1));
  if (!r.ok || M <= 0 || N <= 0) return NULL;
  product_prepacked(r.s, M, N, K, a, ars, acs, packed, c, ldc, acc);
  return NULL;
}

static napi_value js_transpose(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 4);
  const int rows = r.v[1], cols = r.v[2];
  const float *src = span(&r, r.v[0], (int64_t)rows * cols);
  float *dst = span(&r, r.v[3], (int64_t)rows * cols);
  if (r.ok) transpose(src, rows, cols, dst);
  return NULL;
}

/** gatherRows(out, table, width, rows, bias, firstToken): rows of tokens from firstToken on. */
static void task_gather_rows(const int64_t *a) {
  gather_rows((float *)a[0], (const float *)a[1], (int)a[2], (int)a[3], (const float *)a[4], (const int *)a[5]);
}

static napi_value js_gather_rows(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 6);
  const int width = r.v[2], rows = r.v[3], first = r.v[5];
  float *out = span(&r, r.v[0], (int64_t)rows * width);
  const float *bias = span(&r, r.v[4], width);
  if (r.ok && first < 0) {
    napi_throw_range_error(env, NULL, "negative first token");
    return NULL;
  }
  if (!tokens_ok(&r, first + rows)) return NULL;
  const int32_t maxToken = token_bound(&r, first, rows);
  const float *table = span(&r, r.v[1], (int64_t)(maxToken + 1) * width);
  if (!r.ok) return NULL;
  const int32_t *tokens = r.s->tokens + first;
  // Per step (B rows of 4H) this is a memory-bound copy the helper would otherwise idle through.
  const int half = r.s->parallel && rows >= 2 && (int64_t)rows * width >= 16384 ? rows / 2 : rows;
  const int64_t mine[] = {(int64_t)out, (int64_t)table, width, half, (int64_t)bias, (int64_t)tokens};
  const int64_t theirs[] = {(int64_t)(out + (int64_t)half * width), (int64_t)table, width, rows - half, (int64_t)bias, (int64_t)(tokens + half)};
  if (half == rows) task_gather_rows(mine);
  else run_pair(r.s, task_gather_rows, mine, theirs, 6);
  return NULL;
}

static napi_value js_add_row_bias(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 4);
  const int rows = r.v[1], width = r.v[2];
  float *out = span(&r, r.v[0], (int64_t)rows * width);
  const float *bias = span(&r, r.v[3], width);
  if (r.ok) add_row_bias(out, rows, width, bias);
  return NULL;
}

/** scatterAddRows(src, width, rows, dst, firstToken): rows of tokens from firstToken on. */
static napi_value js_scatter_add_rows(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 5);
  const int width = r.v[1], rows = r.v[2], first = r.v[4];
  const float *src = span(&r, r.v[0], (int64_t)rows * width);
  if (r.ok && first < 0) {
    napi_throw_range_error(env, NULL, "negative first token");
    return NULL;
  }
  if (!tokens_ok(&r, first + rows)) return NULL;
  const int32_t maxToken = token_bound(&r, first, rows);
  float *dst = span(&r, r.v[3], (int64_t)(maxToken + 1) * width);
  if (r.ok) scatter_add_rows(src, width, rows, dst, r.s->tokens + first);
  return NULL;
}

/** col_sum over columns [0, cols) of rows `ld` floats apart. */
static void col_sum_part(const float *src, int rows, int cols, int ld, float *dst) {
  for (int j = 0; j < cols; j++) dst[j] = 0.f;
  for (int r = 0; r < rows; r++) add_rows(dst, dst, src + (int64_t)r * ld, cols);
}

static void task_col_sum(const int64_t *a) { col_sum_part((const float *)a[0], (int)a[1], (int)a[2], (int)a[3], (float *)a[4]); }

static napi_value js_col_sum(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 4);
  const int rows = r.v[1], cols = r.v[2];
  const float *src = span(&r, r.v[0], (int64_t)rows * cols);
  float *dst = span(&r, r.v[3], cols);
  if (!r.ok) return NULL;
  // A head's bias gradient sums a whole window of logits: the two threads take half the columns each.
  const int half = r.s->parallel && cols >= 2 * VL && (int64_t)rows * cols >= (1 << 18) ? cols / 2 / VL * VL : cols;
  const int64_t mine[] = {(int64_t)src, rows, half, cols, (int64_t)dst};
  const int64_t theirs[] = {(int64_t)(src + half), rows, cols - half, cols, (int64_t)(dst + half)};
  if (half == cols) col_sum(src, rows, cols, dst);
  else run_pair(r.s, task_col_sum, mine, theirs, 5);
  return NULL;
}

// Cell kernels: buffers given as (offset, floats per batch row); two threads take half the rows each.
#define CELL_MAX_BUFFERS 8
typedef void (*cell_fn)(const int64_t *args);

static void cell_rows(Args *r, cell_fn fn, int B, int H, int nbuf, const int *offs, const int *strides, int flag) {
  float *base[CELL_MAX_BUFFERS];
  for (int i = 0; i < nbuf; i++) base[i] = span(r, offs[i], strides[i] ? (int64_t)B * strides[i] : H);
  if (!r->ok || B <= 0) return;
  int64_t mine[2 + CELL_MAX_BUFFERS + 1], theirs[2 + CELL_MAX_BUFFERS + 1];
  const int half = r->s->parallel && B >= 2 && (int64_t)B * H >= 2048 ? B / 2 : B;
  mine[0] = half;
  theirs[0] = B - half;
  mine[1] = theirs[1] = H;
  for (int i = 0; i < nbuf; i++) {
    mine[2 + i] = (int64_t)base[i];
    theirs[2 + i] = (int64_t)(base[i] + (int64_t)half * strides[i]);
  }
  mine[2 + nbuf] = theirs[2 + nbuf] = flag;
  if (half == B) fn(mine);
  else run_pair(r->s, fn, mine, theirs, 3 + nbuf);
}

#define P(i) ((float *)a[2 + (i)])
static void task_lstm_forward(const int64_t *a) { lstm_forward((int)a[0], (int)a[1], P(0), P(1), P(2), P(3), P(4), (int)a[7]); }
static void task_lstm_backward(const int64_t *a) { lstm_backward((int)a[0], (int)a[1], P(0), P(1), P(2), P(3), P(4), P(5), P(6), (int)a[9]); }
static void task_gru_forward(const int64_t *a) { gru_forward((int)a[0], (int)a[1], P(0), P(1), P(2), P(3), P(4), P(5), (int)a[8]); }
static void task_gru_backward(const int64_t *a) { gru_backward((int)a[0], (int)a[1], P(0), P(1), P(2), P(3), P(4), P(5), P(6), (int)a[9]); }
static void task_rnn_forward(const int64_t *a) { rnn_forward((int)a[0], (int)a[1], P(0), P(1), (int)a[4]); }
static void task_rnn_backward(const int64_t *a) { rnn_backward((int)a[0], (int)a[1], P(0), P(1), P(2), P(3), (int)a[6]); }
#undef P

static napi_value js_lstm_forward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 8);
  const int B = r.v[0], H = r.v[1];
  const int offs[] = {r.v[2], r.v[3], r.v[4], r.v[5], r.v[6]}, strides[] = {4 * H, H, H, H, H};
  cell_rows(&r, task_lstm_forward, B, H, 5, offs, strides, r.v[7]);
  return NULL;
}

static napi_value js_lstm_backward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 10);
  const int B = r.v[0], H = r.v[1];
  const int offs[] = {r.v[2], r.v[3], r.v[4], r.v[5], r.v[6], r.v[7], r.v[8]}, strides[] = {4 * H, H, H, H, H, H, 4 * H};
  cell_rows(&r, task_lstm_backward, B, H, 7, offs, strides, r.v[9]);
  return NULL;
}

static napi_value js_gru_forward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 9);
  const int B = r.v[0], H = r.v[1];
  // bhn is one shared row (stride 0).
  const int offs[] = {r.v[2], r.v[3], r.v[4], r.v[5], r.v[6], r.v[7]}, strides[] = {3 * H, 3 * H, 0, H, H, H};
  cell_rows(&r, task_gru_forward, B, H, 6, offs, strides, r.v[8]);
  return NULL;
}

static napi_value js_gru_backward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 10);
  const int B = r.v[0], H = r.v[1];
  const int offs[] = {r.v[2], r.v[3], r.v[4], r.v[5], r.v[6], r.v[7], r.v[8]}, strides[] = {3 * H, H, H, H, H, 3 * H, 3 * H};
  cell_rows(&r, task_gru_backward, B, H, 7, offs, strides, r.v[9]);
  return NULL;
}

static napi_value js_rnn_forward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 5);
  const int B = r.v[0], H = r.v[1];
  const int offs[] = {r.v[2], r.v[3]}, strides[] = {H, H};
  cell_rows(&r, task_rnn_forward, B, H, 2, offs, strides, r.v[4]);
  return NULL;
}

static napi_value js_rnn_backward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 7);
  const int B = r.v[0], H = r.v[1];
  const int offs[] = {r.v[2], r.v[3], r.v[4], r.v[5]}, strides[] = {H, H, H, H};
  cell_rows(&r, task_rnn_backward, B, H, 4, offs, strides, r.v[6]);
  return NULL;
}

// ---- a whole layer's recurrence and its BPTT (kernels.c layer_*_rows), each thread for half of the batch rows ----
static void task_layer_forward(const int64_t *a) { layer_forward_rows((const LayerJob *)a[0], (int)a[1], (int)a[2], (float *)a[3]); }
static void task_layer_backward(const int64_t *a) { layer_backward_rows((const LayerJob *)a[0], (int)a[1], (int)a[2], (float *)a[3]); }

/** A layer task over every step; batch rows never interact, so with the helper on each thread takes its share of them. */
static void by_batch_rows(Native *s, task_fn task, const LayerJob *job) {
  const int B = job->B, split = s->parallel && B >= 2 ? layer_split(job) : B;
  const int64_t mine[] = {(int64_t)job, 0, split, (int64_t)s->scratch[0]};
  if (split == B) {
    task(mine);
    return;
  }
  const int64_t theirs[] = {(int64_t)job, split, B - split, (int64_t)s->scratch[1]};
  run_pair(s, task, mine, theirs, 4);
}

/**
 * The layer's step layout: `at` < 0 for B rows per step, else T + 1 row offsets at tokens[at] (set with setTokens),
 * from 0, each step at most B rows and never more than the step before. Writes the layer's row count to *rows.
 */
static const int *layer_steps(Args *r, int at, int T, int B, int64_t *rows) {
  *rows = (int64_t)T * B;
  if (!r->ok || at < 0) return NULL;
  if (!tokens_ok(r, at + T + 1)) return NULL;
  const int *offset = r->s->tokens + at;
  int ok = offset[0] == 0;
  for (int t = 0; ok && t < T; t++) {
    const int n = offset[t + 1] - offset[t];
    ok = n >= 0 && n <= (t ? offset[t] - offset[t - 1] : B);
  }
  if (!ok) {
    napi_throw_range_error(r->env, NULL, "layer: step offsets must start at 0 and take at most B rows, never more than the step before");
    r->ok = 0;
    return NULL;
  }
  *rows = offset[T];
  return offset;
}

/**
 * layerForward(module, T, B, H, gates, hs, cs, tc, hn, hproj, packedWhhT, table, bias, firstToken, bhn, flag, steps):
 * offsets as the driver's workspace; table -1 when the gates already hold the input projection; steps as layer_steps.
 */
static napi_value js_layer_forward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 17);
  const int module = r.v[0], T = r.v[1], B = r.v[2], H = r.v[3], first = r.v[13];
  if (r.ok && (module < 0 || module > 2 || T < 0 || B < 0 || H < 0 || first < 0)) {
    napi_throw_range_error(env, NULL, "layerForward: bad module or sizes");
    return NULL;
  }
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, GH = G * H;
  int64_t steps;
  const int *offset = layer_steps(&r, r.v[16], T, B, &steps);
  float *gates = span(&r, r.v[4], steps * GH);
  float *hs = span(&r, r.v[5], steps * H + (int64_t)B * H);
  float *cs = module == 0 ? span(&r, r.v[6], steps * H + (int64_t)B * H) : NULL;
  float *tc = module == 0 ? span(&r, r.v[7], steps * H) : NULL;
  float *hn = module == 1 ? span(&r, r.v[8], steps * H) : NULL;
  float *hproj = module == 1 ? span(&r, r.v[9], (int64_t)B * GH) : NULL;
  const float *packed = span(&r, r.v[10], packed_b_floats(H, GH));
  const float *bhn = module == 1 ? span(&r, r.v[14], H) : NULL;
  const float *table = NULL, *bias = NULL;
  if (r.ok && r.v[11] >= 0) {
    if (!tokens_ok(&r, first + (int)steps)) return NULL;
    const int32_t maxToken = token_bound(&r, first, (int)steps);
    table = span(&r, r.v[11], (int64_t)(maxToken + 1) * GH);
    bias = span(&r, r.v[12], GH);
  }
  if (!r.ok || T == 0 || B == 0) return NULL;
  Native *s = r.s;
  const LayerJob job = {module, T, B, H, r.v[15], offset, gates, hs, cs, tc, hn, hproj, packed, table, bias,
                        s->tokens ? s->tokens + first : NULL, bhn};
  by_batch_rows(s, task_layer_forward, &job);
  return NULL;
}

/**
 * layerBackward(module, T, B, H, gates, hs, cs, tc, hn, packedWhh, dhIn, dhRec, dc, dGi, dGh, flag, steps): BPTT
 * through a layer (kernels.c layer_backward_rows), the batch rows shared by the threads; offsets as the driver's workspace.
 */
static napi_value js_layer_backward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 17);
  const int module = r.v[0], T = r.v[1], B = r.v[2], H = r.v[3];
  if (r.ok && (module < 0 || module > 2 || T < 0 || B < 0 || H < 0)) {
    napi_throw_range_error(env, NULL, "layerBackward: bad module or sizes");
    return NULL;
  }
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, GH = G * H;
  const int64_t state = (int64_t)B * H;
  int64_t steps;
  LayerJob job = {module, T, B, H, r.v[15], layer_steps(&r, r.v[16], T, B, &steps)};
  job.gates = span(&r, r.v[4], steps * GH);
  job.hs = span(&r, r.v[5], steps * H + state);
  job.cs = module == 0 ? span(&r, r.v[6], steps * H + state) : NULL;
  job.tc = module == 0 ? span(&r, r.v[7], steps * H) : NULL;
  job.hn = module == 1 ? span(&r, r.v[8], steps * H) : NULL;
  job.packedW = span(&r, r.v[9], packed_b_floats(GH, H));
  job.dhIn = span(&r, r.v[10], steps * H);
  job.dhRec = span(&r, r.v[11], state);
  job.dc = module == 0 ? span(&r, r.v[12], state) : NULL;
  job.dGi = span(&r, r.v[13], steps * GH);
  job.dGh = module == 1 ? span(&r, r.v[14], steps * GH) : NULL;
  if (!r.ok || T == 0 || B == 0) return NULL;
  Native *s = r.s;
  by_batch_rows(s, task_layer_backward, &job);
  return NULL;
}

// ---- the document sweep on two threads (the team protocol is kernels.c's seq_team_*) ----------------

static void task_seq_helper(const int64_t *a) { seq_team_run_role((SeqTeam *)a[0], 1); }

/**
 * seqForward(module, T, H, packed, xp, firstToken, bhn, hs, R, c, every, ckh, ckc, flag, threads): kernels.c
 * seq_forward; firstToken >= 0 reads the projection as rows of a table by the tokens set, -1 as T rows.
 */
static napi_value js_seq_forward(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 15);
  const int module = r.v[0], T = r.v[1], H = r.v[2], first = r.v[5], R = r.v[8], every = r.v[10];
  if (r.ok && (module < 0 || module > 2 || T < 0 || H <= 0 || R < 2 || (R > T + 1 && R != 2) || every < 0)) {
    napi_throw_range_error(env, NULL, "seqForward: bad module, sizes or ring");
    return NULL;
  }
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, Hp = (H + 7) & ~7, P = seq_panels(module, H);
  const int64_t row = (int64_t)G * Hp;
  const float *wp = span(&r, r.v[3], (int64_t)G * H * Hp);
  const float *xp = NULL;
  const int32_t *tokens = NULL;
  if (r.ok && first >= 0) {
    if (!tokens_ok(&r, first + T)) return NULL;
    const int32_t maxToken = token_bound(&r, first, T);
    xp = span(&r, r.v[4], (int64_t)(maxToken + 1) * row);
    tokens = r.s->tokens + first;
  } else {
    xp = span(&r, r.v[4], (int64_t)T * row);
  }
  const float *bhn = module == 1 ? span(&r, r.v[6], Hp) : NULL;
  float *hs = span(&r, r.v[7], (int64_t)R * Hp);
  float *c = module == 0 ? span(&r, r.v[9], Hp) : NULL;
  const int64_t kept = every > 0 ? (int64_t)(T / every) * H : 0;
  float *ckh = kept ? span(&r, r.v[11], kept) : NULL;
  float *ckc = kept && module == 0 ? span(&r, r.v[12], kept) : NULL;
  if (!r.ok || T == 0) return NULL;
  Native *s = r.s;
  if (!(r.v[14] == 2 && s->threads == 2 && P >= 2 && helper_start(&s->helper))) {
    seq_forward(module, T, H, wp, xp, tokens, bhn, hs, R, c, every, ckh, ckc, r.v[13]);
    return NULL;
  }
  SeqTeam *team = aligned_alloc(64, (SEQ_TEAM_BYTES(P) + 63) & ~(size_t)63);
  if (!team) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  seq_team_setup(team, module, T, H, wp, xp, tokens, bhn, hs, R, c, every, ckh, ckc, r.v[13]);
  const int64_t args[1] = {(int64_t)team};
  helper_post(&s->helper, task_seq_helper, args, 1);
  seq_team_run_role(team, 0);
  helper_join(&s->helper);
  free(team);
  return NULL;
}

// ---- softmax cross-entropy and clipping -------------------------------------------------------------

static void task_softmax_xent(const int64_t *a) {
  softmax_xent((float *)a[0], (int)a[1], (int)a[2], (const int *)a[3], (const float *)a[4], (const float *)a[5], (float *)a[6],
               (float *)a[7]);
}

/**
 * softmaxCrossEntropy(logits, rows, V, gradScale, bias, targets, biasGrad): the summed loss over rows whose target
 * is not negative; bias -1 for none; biasGrad (-1 for none) receives the gradient's column sums when gradScale != 0.
 * Rows split across the two threads (the second one sums its columns apart, then they are added).
 */
static napi_value js_softmax_xent(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  size_t argc = 7;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  Args r = {env, data, {0}, 1};
  if (!alive(env, r.s)) return NULL;
  double scale = 0;
  if (argc < 7 || napi_get_value_int32(env, argv[0], &r.v[0]) != napi_ok || napi_get_value_int32(env, argv[1], &r.v[1]) != napi_ok
      || napi_get_value_int32(env, argv[2], &r.v[2]) != napi_ok || napi_get_value_double(env, argv[3], &scale) != napi_ok
      || napi_get_value_int32(env, argv[4], &r.v[4]) != napi_ok || napi_get_value_int32(env, argv[6], &r.v[6]) != napi_ok) {
    napi_throw_type_error(env, NULL, "softmaxCrossEntropy expects (logits, rows, V, gradScale, bias, targets, biasGrad)");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void *values = NULL;
  if (napi_get_typedarray_info(env, argv[5], &type, &length, &values, NULL, NULL) != napi_ok || type != napi_int32_array) {
    napi_throw_type_error(env, NULL, "softmaxCrossEntropy expects its targets as an Int32Array");
    return NULL;
  }
  const int rows = r.v[1], V = r.v[2];
  if (rows < 0 || V < 1 || (size_t)rows > length) {
    napi_throw_range_error(env, NULL, "softmaxCrossEntropy: more rows than targets");
    return NULL;
  }
  float *x = span(&r, r.v[0], (int64_t)rows * V);
  const float *bias = r.v[4] >= 0 ? span(&r, r.v[4], V) : NULL;
  float *colsum = r.v[6] >= 0 && scale != 0 ? span(&r, r.v[6], V) : NULL;
  if (!r.ok) return NULL;
  const int32_t *targets = values;
  for (int i = 0; i < rows; i++) {
    if (targets[i] >= V) {
      napi_throw_range_error(env, NULL, "softmaxCrossEntropy: target outside the row");
      return NULL;
    }
  }
  Native *s = r.s;
  if (rows > s->statsRows) {
    float *grown = realloc(s->stats, (size_t)rows * 3 * sizeof(float));
    if (!grown) {
      napi_throw_error(env, NULL, "out of memory for softmax statistics");
      return NULL;
    }
    s->stats = grown;
    s->statsRows = rows;
  }
  const float g = (float)scale;
  const int half = s->parallel && rows >= 2 && (int64_t)rows * V >= 65536 ? rows / 2 : rows;
  // The second thread sums its columns into the shared buffer.
  float *theirColsum = colsum && half < rows ? shared_buffer(s, V) : NULL;
  if (colsum) memset(colsum, 0, (size_t)V * sizeof(float));
  if (theirColsum) memset(theirColsum, 0, (size_t)V * sizeof(float));
  const int64_t mine[] = {(int64_t)x, half, V, (int64_t)targets, (int64_t)bias, (int64_t)&g, (int64_t)s->stats, (int64_t)colsum};
  const int64_t theirs[] = {(int64_t)(x + (int64_t)half * V), rows - half, V, (int64_t)(targets + half), (int64_t)bias, (int64_t)&g,
                            (int64_t)(s->stats + 3 * (int64_t)half), (int64_t)(theirColsum ? theirColsum : colsum)};
  if (half == rows || (colsum && !theirColsum)) {
    task_softmax_xent(mine);
    if (half < rows) task_softmax_xent(theirs);
  } else {
    run_pair(s, task_softmax_xent, mine, theirs, 8);
  }
  if (theirColsum) add_rows(colsum, colsum, theirColsum, V);
  double loss = 0;
  for (int i = 0; i < rows; i++) {
    if (targets[i] < 0) continue;
    const float *st = s->stats + 3 * i;
    loss += log((double)st[1]) + (double)st[0] - (double)st[2];
  }
  napi_value out;
  napi_create_double(env, loss, &out);
  return out;
}

static void task_sum_squares(const int64_t *a) { sum_squares((const float *)a[0], (int)a[1], (double *)a[2]); }

/** sumSquares(off, n): the sum of squares in double precision, halves on the two threads. */
static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  Args r = read_args(env, info, 2);
  const int n = r.v[1];
  const float *x = span(&r, r.v[0], n);
  if (!r.ok) return NULL;
  double parts[2] = {0, 0};
  const int half = r.s->parallel && n >= 65536 ? (n / 2) & ~7 : n;
  const int64_t mine[] = {(int64_t)x, half, (int64_t)&parts[0]};
  const int64_t theirs[] = {(int64_t)(x + half), n - half, (int64_t)&parts[1]};
  if (half == n) task_sum_squares(mine);
  else run_pair(r.s, task_sum_squares, mine, theirs, 3);
  napi_value out;
  napi_create_double(env, parts[0] + parts[1], &out);
  return out;
}

/** scale(off, n, factor): x *= factor. */
static napi_value js_scale(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  Args r = {env, data, {0}, 1};
  if (!alive(env, r.s)) return NULL;
  double factor = 1;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &r.v[0]) != napi_ok || napi_get_value_int32(env, argv[1], &r.v[1]) != napi_ok
      || napi_get_value_double(env, argv[2], &factor) != napi_ok) {
    napi_throw_type_error(env, NULL, "scale expects (offset, n, factor)");
    return NULL;
  }
  float *x = span(&r, r.v[0], r.v[1]);
  const float f = (float)factor;
  if (r.ok) scale(x, r.v[1], &f);
  return NULL;
}

// GCC contracts a*b + c into one fused multiply-add when it may (-ffp-contract=fast, its default), which rounds
// once instead of twice: Adam must not, to stay bit-identical with src/core/optim.ts.
#if defined(__clang__)
#define NO_CONTRACT
#define NO_CONTRACT_BODY _Pragma("clang fp contract(off)")
#else
#define NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#define NO_CONTRACT_BODY
#endif

/**
 * adam_step four elements at a time in double precision: the same operations in the same order (products and
 * sums kept apart, no fused multiply-add), so every update is bit-identical to optim.ts.
 */
NO_CONTRACT static void adam_step_avx2(int n, float *p, const float *g, float *m, float *v, const double *hyper) {
  NO_CONTRACT_BODY
  const double beta1 = hyper[0], beta2 = hyper[1], stepSize = hyper[2], bc2Sqrt = hyper[3], eps = hyper[4], wd = hyper[5];
  const __m256d b1 = _mm256_set1_pd(beta1), b2 = _mm256_set1_pd(beta2), c1 = _mm256_set1_pd(1.0 - beta1), c2 = _mm256_set1_pd(1.0 - beta2);
  const __m256d step = _mm256_set1_pd(-stepSize), bc = _mm256_set1_pd(bc2Sqrt), ep = _mm256_set1_pd(eps), decay = _mm256_set1_pd(wd);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d pd = _mm256_cvtps_pd(_mm_loadu_ps(p + i));
    __m256d d = _mm256_cvtps_pd(_mm_loadu_ps(g + i));
    if (wd != 0.0) d = _mm256_add_pd(d, _mm256_mul_pd(decay, pd));
    const __m128 mi = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(m + i)), b1), _mm256_mul_pd(c1, d)));
    const __m128 vi = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(v + i)), b2), _mm256_mul_pd(_mm256_mul_pd(c2, d), d)));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    const __m256d denom = _mm256_add_pd(_mm256_div_pd(_mm256_sqrt_pd(_mm256_cvtps_pd(vi)), bc), ep);
    _mm_storeu_ps(p + i, _mm256_cvtpd_ps(_mm256_add_pd(pd, _mm256_mul_pd(step, _mm256_div_pd(_mm256_cvtps_pd(mi), denom)))));
  }
  for (; i < n; i++) {
    const double d = wd != 0.0 ? (double)g[i] + wd * (double)p[i] : (double)g[i];
    const float mi = (float)((double)m[i] * beta1 + (1.0 - beta1) * d);
    const float vi = (float)((double)v[i] * beta2 + (1.0 - beta2) * d * d);
    m[i] = mi;
    v[i] = vi;
    p[i] = (float)((double)p[i] + -stepSize * ((double)mi / (sqrt((double)vi) / bc2Sqrt + eps)));
  }
}

static void task_adam(const int64_t *a) {
  adam_step_avx2((int)a[0], (float *)a[1], (const float *)a[2], (float *)a[3], (float *)a[4], (const double *)a[5]);
}

static napi_value js_adam_step(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  size_t argc = 6;
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, &data);
  Args r = {env, data, {0}, 1};
  if (!alive(env, r.s)) return NULL;
  for (int i = 0; i < 5 && r.ok; i++) {
    if (napi_get_value_int32(env, argv[i], &r.v[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "adamStep expects integer offsets");
      return NULL;
    }
  }
  napi_typedarray_type type;
  size_t length = 0;
  void *hyper = NULL;
  if (argc < 6 || napi_get_typedarray_info(env, argv[5], &type, &length, &hyper, NULL, NULL) != napi_ok
      || type != napi_float64_array || length < 6) {
    napi_throw_type_error(env, NULL, "adamStep expects 6 hyper-parameters in a Float64Array");
    return NULL;
  }
  const int n = r.v[0];
  float *p = span(&r, r.v[1], n), *g = span(&r, r.v[2], n), *m = span(&r, r.v[3], n), *v = span(&r, r.v[4], n);
  if (!r.ok || n <= 0) return NULL;
  const int half = r.s->parallel && n >= 4096 ? (n / 2) & ~7 : n;
  const int64_t mine[] = {half, (int64_t)p, (int64_t)g, (int64_t)m, (int64_t)v, (int64_t)hyper};
  const int64_t theirs[] = {n - half, (int64_t)(p + half), (int64_t)(g + half), (int64_t)(m + half), (int64_t)(v + half), (int64_t)hyper};
  if (half == n) task_adam(mine);
  else run_pair(r.s, task_adam, mine, theirs, 6);
  return NULL;
}

static napi_value js_set_parallel(napi_env env, napi_callback_info info) {
  napi_value arg;
  Native *s = first_arg(env, info, &arg);
  bool on = false;
  napi_get_value_bool(env, arg, &on);
  s->parallel = on && s->threads == 2;
  return NULL;
}

static napi_value js_dispose(napi_env env, napi_callback_info info) {
  void *data = NULL;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, NULL, NULL, &data);
  native_free(data, env);
  return NULL;
}

/** create(threads: 1 | 2): a kernel object with its own heap and (for 2) a helper thread. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  napi_value arg;
  first_arg(env, info, &arg);
  int32_t threads = 1;
  napi_get_value_int32(env, arg, &threads);
  Native *s = calloc(1, sizeof(Native));
  if (!s) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  s->threads = threads == 2 ? 2 : 1;
  s->parallel = s->threads == 2; // on until setParallel(false), like the wasm helper thread
  for (int i = 0; i < 2; i++) s->scratch[i] = aligned_alloc(64, ((size_t)SCRATCH_FLOATS * sizeof(float) + 63) & ~(size_t)63);
  if (!s->scratch[0] || !s->scratch[1]) {
    native_free(s, env);
    free(s);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_value obj;
  napi_create_object(env, &obj);
  const napi_property_descriptor methods[] = {
      {"setHeap", NULL, set_heap, NULL, NULL, NULL, napi_default, s},
      {"setTokens", NULL, set_tokens, NULL, NULL, NULL, napi_default, s},
      {"packedSize", NULL, js_packed_size, NULL, NULL, NULL, napi_default, s},
      {"packB", NULL, js_pack_b, NULL, NULL, NULL, napi_default, s},
      {"packBT", NULL, js_pack_bt, NULL, NULL, NULL, napi_default, s},
      {"softmaxCrossEntropy", NULL, js_softmax_xent, NULL, NULL, NULL, napi_default, s},
      {"sumSquares", NULL, js_sum_squares, NULL, NULL, NULL, napi_default, s},
      {"scale", NULL, js_scale, NULL, NULL, NULL, napi_default, s},
      {"gemm", NULL, js_gemm, NULL, NULL, NULL, napi_default, s},
      {"gemmPacked", NULL, js_gemm_packed, NULL, NULL, NULL, napi_default, s},
      {"transpose", NULL, js_transpose, NULL, NULL, NULL, napi_default, s},
      {"gatherRows", NULL, js_gather_rows, NULL, NULL, NULL, napi_default, s},
      {"addRowBias", NULL, js_add_row_bias, NULL, NULL, NULL, napi_default, s},
      {"scatterAddRows", NULL, js_scatter_add_rows, NULL, NULL, NULL, napi_default, s},
      {"colSum", NULL, js_col_sum, NULL, NULL, NULL, napi_default, s},
      {"lstmForward", NULL, js_lstm_forward, NULL, NULL, NULL, napi_default, s},
      {"lstmBackward", NULL, js_lstm_backward, NULL, NULL, NULL, napi_default, s},
      {"gruForward", NULL, js_gru_forward, NULL, NULL, NULL, napi_default, s},
      {"gruBackward", NULL, js_gru_backward, NULL, NULL, NULL, napi_default, s},
      {"rnnForward", NULL, js_rnn_forward, NULL, NULL, NULL, napi_default, s},
      {"rnnBackward", NULL, js_rnn_backward, NULL, NULL, NULL, napi_default, s},
      {"adamStep", NULL, js_adam_step, NULL, NULL, NULL, napi_default, s},
      {"layerForward", NULL, js_layer_forward, NULL, NULL, NULL, napi_default, s},
      {"layerBackward", NULL, js_layer_backward, NULL, NULL, NULL, napi_default, s},
      {"seqForward", NULL, js_seq_forward, NULL, NULL, NULL, napi_default, s},
      {"setParallel", NULL, js_set_parallel, NULL, NULL, NULL, napi_default, s},
      {"dispose", NULL, js_dispose, NULL, NULL, NULL, napi_default, s},
  };
  napi_define_properties(env, obj, sizeof(methods) / sizeof(methods[0]), methods);
  napi_wrap(env, obj, s, native_finalize, NULL, NULL);
  return obj;
}

/** Called by native_module.c once the CPU is known to have AVX2 and FMA. */
napi_value gatescope_register_kernels(napi_env env, napi_value exports) {
  napi_value create, lanes;
  napi_create_function(env, "create", NAPI_AUTO_LENGTH, js_create, NULL, &create);
  napi_set_named_property(env, exports, "create", create);
  napi_create_int32(env, VL, &lanes);
  napi_set_named_property(env, exports, "lanes", lanes);
  return exports;
}
