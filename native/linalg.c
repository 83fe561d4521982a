// repdyn's optional native linear algebra: a small N-API addon over OpenBLAS (BLAS + its LAPACK).
// Every operation runs off the JS thread (napi async work on libuv's pool) and resolves a Promise
// with a new Float64Array. Matrices are row-major float64, as in core/cca; the Fortran routines
// see them as column-major transposes (for symmetric inputs they are the same matrix).
//
#define _GNU_SOURCE  // clock_gettime under -std=c11
// Built by `node-gyp` from scripts/build-native.mjs (npm postinstall); optional: when it is missing,
// core/cca/native.ts reports that and the engine uses its JS/onnxruntime path.
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Fortran BLAS/LAPACK symbols exported by libopenblas (32-bit integers; hidden string lengths last).
extern void dgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                   const double *alpha, const double *a, const int *lda, const double *b,
                   const int *ldb, const double *beta, double *c, const int *ldc, size_t, size_t);
extern void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
                   const double *alpha, const double *a, const int *lda, const double *beta,
                   double *c, const int *ldc, size_t, size_t);
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t, size_t);
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda,
                    double *s, double *u, const int *ldu, double *vt, const int *ldvt, double *work,
                    const int *lwork, int *iwork, int *info, size_t);
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
extern void dtrmm_(const char *side, const char *uplo, const char *transa, const char *diag, const int *m,
                   const int *n, const double *alpha, const double *a, const int *lda, double *b, const int *ldb,
                   size_t, size_t, size_t, size_t);
extern void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda,
                    int *info, size_t, size_t);
extern void openblas_set_num_threads(int);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

enum op { OP_GEMM_TN, OP_GEMM_NN, OP_SYRK, OP_EIG, OP_EIGVALS, OP_CHOLINV, OP_SVDVALS, OP_SVD, OP_COLSTATS, OP_CENTRE,
          OP_GRAMEIG, OP_GRAMEIGVALS, OP_TRMM_UPPER };

typedef struct {
  enum op op;
  int m, n, k;            // shapes (see each op)
  double *a, *b;          // inputs (private copies for the in-place LAPACK routines, else JS memory)
  int own_a;              // a was malloc'd here
  const float *af;        // colstats/centre: float32 input instead of a (when not NULL)
  int32_t *keep;          // centre: kept columns (malloc'd copy)
  double *mean;           // centre: their means (malloc'd copy)
  double scale;           // centre: power-of-two factor applied after subtracting the mean
  napi_ref ref_a, ref_b;  // keep the JS inputs alive while the work runs
  double *out;            // output (malloc'd on the pool thread, then owned by an external ArrayBuffer)
  size_t out_len;         // doubles
  size_t result_len;      // doubles of out that form the result (0 = failure such as not positive definite)
  int info;               // LAPACK info when it failed
  const char *error;      // static message
  napi_deferred deferred;
  napi_async_work work;
} job_t;

#define CHECK(env, call)                                              \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error((env), "REPDYN_NATIVE", "N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static int imin(int a, int b) { return a < b ? a : b; }

// Reverses ascending eigenvalues (and the matching eigenvector columns of the column-major result,
// which are the rows of the row-major view) into descending order, packed as values then vectors.
static void pack_desc(const double *w, const double *v, int n, double *out, int vectors) {
  for (int i = 0; i < n; i++) out[i] = w[n - 1 - i];
  if (!vectors) return;
  for (int i = 0; i < n; i++) memcpy(out + n + (size_t)i * n, v + (size_t)(n - 1 - i) * n, sizeof(double) * n);
}

// dsyevd of the symmetric a [n, n] (column-major, triangle `uplo` read; overwritten), packed
// descending into out (values, then the eigenvectors as rows when `vectors`).
static void sym_eig(job_t *j, double *a, int n, const char *uplo, int vectors) {
  int info = 0, lwork = -1, liwork = -1, iw = 0;
  if (n == 0) return;
  double wq = 0;
  const char *jobz = vectors ? "V" : "N";
  double *w = malloc(sizeof(double) * n);
  dsyevd_(jobz, uplo, &n, a, &n, w, &wq, &lwork, &iw, &liwork, &info, 1, 1);
  lwork = (int)wq + 1;
  liwork = iw > 1 ? iw : 1;
  double *work = malloc(sizeof(double) * lwork);
  int *iwork = malloc(sizeof(int) * liwork);
  if (!w || !work || !iwork) j->error = "out of memory";
  else {
    dsyevd_(jobz, uplo, &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    if (info != 0) { j->error = "dsyevd failed"; j->info = info; }
    else pack_desc(w, a, n, j->out, vectors);
  }
  free(w); free(work); free(iwork);
}

// Per operation: calls, wall and thread-CPU nanoseconds of execute() on the pool threads (opStats()),
// for profiles that must not count a call's wait for a thread or for the JS thread's callback.
#define N_OPS (OP_TRMM_UPPER + 1)
static uint64_t op_stats[N_OPS][3];

static uint64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void run(job_t *j);

// Output buffers, zeroed only when asked (outputs every element of which the operation writes skip
// the zeroing altogether), and kept for reuse once their ArrayBuffer is collected. A fresh block of
// tens of MB comes from mmap, and every 4 KiB page of it costs a fault and the kernel's zeroing on
// first write: 40 MB filled in ~24 ms fresh against ~3 ms reused, measured on the 2-core Zen 4 (the
// tensor makes hundreds of such blocks: centred representations, M, B). Released blocks of at least
// CACHE_MIN bytes are kept (at most CACHE_MAX bytes in all, in CACHE_SLOTS) and handed out again for a
// request they fit within a quarter of their size, while a user holds the cache (useCache(+1) and
// useCache(-1): GemmEngine.reuseOutputs(), held by a tensor build; the last user out frees the
// blocks, and blocks released with no user are freed at once, so an idle worker holds none). Each
// block starts with a 64-byte header holding its capacity (the data keeps malloc's alignment).
#define HEADER 64
#define CACHE_MIN ((size_t)1 << 20)
#define CACHE_MAX ((size_t)256 << 20)
#define CACHE_SLOTS 32
static struct {
  unsigned char *base;
  size_t cap;
} cache[CACHE_SLOTS];
static size_t cached_bytes;
static int cache_users;
static uint64_t cache_reuses;  // blocks handed out again
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static double *alloc_output(size_t bytes, int zero) {
  unsigned char *base = NULL;
  if (bytes >= CACHE_MIN) {
    pthread_mutex_lock(&cache_lock);
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++) {
      if (cache[i].base && cache[i].cap >= bytes && cache[i].cap - bytes <= bytes / 4 &&
          (best < 0 || cache[i].cap < cache[best].cap))
        best = i;
    }
    if (best >= 0) {
      base = cache[best].base;
      cached_bytes -= cache[best].cap;
      cache[best].base = NULL;
      cache_reuses++;
    }
    pthread_mutex_unlock(&cache_lock);
    if (base && zero) memset(base + HEADER, 0, bytes);
  }
  if (!base) {
    base = zero ? calloc(1, HEADER + bytes) : malloc(HEADER + bytes);
    if (!base) return NULL;
    memcpy(base, &bytes, sizeof bytes);
  }
  return (double *)(base + HEADER);
}

static void release_output(double *out) {
  if (!out) return;
  unsigned char *base = (unsigned char *)out - HEADER;
  size_t cap;
  memcpy(&cap, base, sizeof cap);
  if (cap >= CACHE_MIN) {
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS && base; i++) {
      if (cache_users > 0 && !cache[i].base && cached_bytes + cap <= CACHE_MAX) {
        cache[i].base = base;
        cache[i].cap = cap;
        cached_bytes += cap;
        base = NULL;
      }
    }
    pthread_mutex_unlock(&cache_lock);
  }
  free(base);
}

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *j = (job_t *)data;
  uint64_t wall = clock_ns(CLOCK_MONOTONIC), cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  // The output is allocated here, on the pool thread, and handed to JS as an external ArrayBuffer in
  // complete(): the JS thread never zeroes (or page-faults in) tens of MB per call.
  if (j->out_len) {
    int writes_all = j->op == OP_GEMM_TN || j->op == OP_GEMM_NN || j->op == OP_SYRK || j->op == OP_CENTRE ||
                     j->op == OP_TRMM_UPPER;
    j->out = alloc_output(sizeof(double) * j->out_len, !writes_all);
    if (!j->out) {
      j->error = "out of memory";
      return;
    }
  }
  run(j);
  __atomic_fetch_add(&op_stats[j->op][0], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&op_stats[j->op][1], clock_ns(CLOCK_MONOTONIC) - wall, __ATOMIC_RELAXED);
  __atomic_fetch_add(&op_stats[j->op][2], clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu, __ATOMIC_RELAXED);
}

static void run(job_t *j) {
  const double one = 1.0, zero = 0.0;
  j->result_len = j->out_len;
  switch (j->op) {
    case OP_GEMM_TN: {
      // out [m, n] = a^T b with a [k, m], b [k, n] row-major; column-major: out^T = b^T a.
      if (j->k == 0) { memset(j->out, 0, sizeof(double) * j->out_len); break; }
      int lda = j->m > 0 ? j->m : 1, ldb = j->n > 0 ? j->n : 1;
      dgemm_("N", "T", &j->n, &j->m, &j->k, &one, j->b, &ldb, j->a, &lda, &zero, j->out, &ldb, 1, 1);
      break;
    }
    case OP_GEMM_NN: {
      // out [m, n] = a b with a [m, k], b [k, n]; column-major: out^T = b^T a^T.
      if (j->k == 0) { memset(j->out, 0, sizeof(double) * j->out_len); break; }
      int lda = j->k, ldb = j->n > 0 ? j->n : 1;
      dgemm_("N", "N", &j->n, &j->m, &j->k, &one, j->b, &ldb, j->a, &lda, &zero, j->out, &ldb, 1, 1);
      break;
    }
    case OP_TRMM_UPPER: {
      // out [m, n] = a [m, n] b, b [n, n] upper triangular (its strict lower triangle is not read):
      // column-major out^T = b^T a^T, b^T the lower triangle of b's storage read column-major.
      int m = j->m, n = j->n, ld = n > 0 ? n : 1;
      if (m == 0 || n == 0) break;
      memcpy(j->out, j->a, sizeof(double) * j->out_len);
      dtrmm_("L", "L", "N", "N", &n, &m, &one, j->b, &ld, j->out, &ld, 1, 1, 1, 1);
      break;
    }
    case OP_SYRK: {
      // out [m, m] = a^T a with a [k, m] row-major (= a_cm a_cm^T, a_cm [m, k]); both triangles filled.
      int m = j->m, lda = m > 0 ? m : 1;
      if (j->k == 0 || m == 0) { memset(j->out, 0, sizeof(double) * j->out_len); break; }
      dsyrk_("U", "N", &m, &j->k, &one, j->a, &lda, &zero, j->out, &lda, 1, 1);
      for (int c = 0; c < m; c++)
        for (int r = c + 1; r < m; r++) j->out[(size_t)c * m + r] = j->out[(size_t)r * m + c];
      break;
    }
    case OP_EIG:
    case OP_EIGVALS:
      sym_eig(j, j->a, j->n, "L", j->op == OP_EIG);
      break;
    case OP_GRAMEIG:
    case OP_GRAMEIGVALS: {
      // b [p, q] row-major (= column-major b^T [q, p], ld q): the Gram of its smaller side, b b^T
      // [p, p] when p <= q else b^T b [q, q], then its eigendecomposition as OP_EIG/OP_EIGVALS.
      int p = j->m, q = j->n, small = imin(p, q);
      if (small == 0) break;
      double *g = malloc(sizeof(double) * (size_t)small * small);
      if (!g) { j->error = "out of memory"; break; }
      int ldb = q;
      if (p <= q) dsyrk_("U", "T", &small, &q, &one, j->a, &ldb, &zero, g, &small, 1, 1);
      else dsyrk_("U", "N", &small, &p, &one, j->a, &ldb, &zero, g, &small, 1, 1);
      sym_eig(j, g, small, "U", j->op == OP_GRAMEIG);
      free(g);
      break;
    }
    case OP_CHOLINV: {
      // g = R^T R (R upper, row-major) is g = L L^T with L = the column-major lower factor; the
      // column-major lower L^-1 read row-major is (L^-1)^T = R^-1.
      int n = j->n, info = 0;
      if (n == 0) break;
      dpotrf_("L", &n, j->a, &n, &info, 1);
      if (info == 0) dtrtri_("L", "N", &n, j->a, &n, &info, 1, 1);
      if (info != 0) { j->result_len = 0; break; }
      for (int c = 0; c < n; c++)
        for (int r = 0; r < n; r++) j->out[(size_t)c * n + r] = r >= c ? j->a[(size_t)c * n + r] : 0.0;
      break;
    }
    case OP_COLSTATS: {
      // Column sums in row order (so equal, bit for bit, to the JS loop), "varies" flags, minima and
      // maxima, [4d].
      int n = j->m, d = j->n;
      double *sum = j->out, *varies = j->out + d, *lo = j->out + 2 * (size_t)d, *hi = j->out + 3 * (size_t)d;
      memset(varies, 0, sizeof(double) * d);
      if (n == 0 || d == 0) break;
      if (j->af) {
        const float *x = j->af;
        for (int c = 0; c < d; c++) sum[c] = lo[c] = hi[c] = x[c];
        for (int r = 1; r < n; r++) {
          const float *row = x + (size_t)r * d;
          for (int c = 0; c < d; c++) {  // branch-free: vectorised across columns
            double v = row[c];
            sum[c] += v;
            varies[c] = row[c] != x[c] ? 1.0 : varies[c];
            lo[c] = v < lo[c] ? v : lo[c];
            hi[c] = v > hi[c] ? v : hi[c];
          }
        }
      } else {
        const double *x = j->a;
        for (int c = 0; c < d; c++) sum[c] = lo[c] = hi[c] = x[c];
        for (int r = 1; r < n; r++) {
          const double *row = x + (size_t)r * d;
          for (int c = 0; c < d; c++) {  // branch-free: vectorised across columns
            double v = row[c];
            sum[c] += v;
            varies[c] = v != x[c] ? 1.0 : varies[c];
            lo[c] = v < lo[c] ? v : lo[c];
            hi[c] = v > hi[c] ? v : hi[c];
          }
        }
      }
      break;
    }
    case OP_CENTRE: {
      // out [n, live] = (x[:, keep] - mean) * scale (a power of two: exact).
      int n = j->m, d = j->n, live = j->k;
      const double s = j->scale;
      for (int r = 0; r < n; r++) {
        double *o = j->out + (size_t)r * live;
        if (j->af) {
          const float *row = j->af + (size_t)r * d;
          for (int c = 0; c < live; c++) o[c] = (double)row[j->keep[c]] - j->mean[c];
        } else {
          const double *row = j->a + (size_t)r * d;
          if (live == d)
            for (int c = 0; c < d; c++) o[c] = row[c] - j->mean[c];
          else
            for (int c = 0; c < live; c++) o[c] = row[j->keep[c]] - j->mean[c];
        }
        if (s != 1.0)
          for (int c = 0; c < live; c++) o[c] *= s;
      }
      break;
    }
    case OP_SVDVALS:
    case OP_SVD: {
      // a [m, n] row-major is the column-major [n, m] matrix a^T (same singular values). Output:
      // values (min(m, n), descending); with vectors, then U [m, r] row-major and Vt [r, n] row-major
      // of a = U diag(s) Vt. Column-major a^T = U' S Vt'  =>  a = Vt'^T S U'^T.
      int m = j->m, n = j->n, r = imin(m, n), info = 0, lwork = -1, wantv = j->op == OP_SVD;
      if (r == 0) break;
      const char *jobz = wantv ? "S" : "N";
      int rows = n, cols = m;  // column-major shape of a^T
      double *u = wantv ? malloc(sizeof(double) * (size_t)rows * r) : NULL;   // [rows, r] col-major
      double *vt = wantv ? malloc(sizeof(double) * (size_t)r * cols) : NULL;  // [r, cols] col-major
      int *iwork = malloc(sizeof(int) * 8 * (size_t)r);
      double wq = 0;
      int ldu = rows, ldvt = r;
      dgesdd_(jobz, &rows, &cols, j->a, &rows, j->out, u ? u : &wq, &ldu, vt ? vt : &wq, &ldvt, &wq, &lwork, iwork, &info, 1);
      lwork = (int)wq + 1;
      double *work = malloc(sizeof(double) * lwork);
      if (!work || !iwork || (wantv && (!u || !vt))) j->error = "out of memory";
      else {
        double dummy = 0;
        dgesdd_(jobz, &rows, &cols, j->a, &rows, j->out, u ? u : &dummy, &ldu, vt ? vt : &dummy, &ldvt, work, &lwork, iwork, &info, 1);
        if (info != 0) { j->error = "dgesdd failed"; j->info = info; }
        else if (wantv) {
          // U (row-major [m, r]) = Vt'^T: U[i][q] = vt[q + i * r] (vt col-major [r, m]): rows of vt' storage.
          double *U = j->out + r, *Vt = j->out + r + (size_t)m * r;
          memcpy(U, vt, sizeof(double) * (size_t)m * r);
          // Vt (row-major [r, n]) = U'^T: Vt[q][c] = u[c + q * rows].
          memcpy(Vt, u, sizeof(double) * (size_t)r * n);
        }
      }
      free(u); free(vt); free(iwork); free(work);
      break;
    }
  }
}

static void free_output(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release_output(data);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = (job_t *)data;
  napi_value result, buffer;
  void *none;
  const char *error = status != napi_ok ? "native work cancelled" : j->error;
  if (!error) {
    if (!j->out) {
      if (napi_create_arraybuffer(env, 0, &none, &buffer) != napi_ok) error = "could not create the result";
    } else if (napi_create_external_arraybuffer(env, j->out, sizeof(double) * j->out_len, free_output, NULL,
                                                &buffer) == napi_ok) {
      j->out = NULL;  // owned by the ArrayBuffer now
    } else {
      error = "could not hand the result over";
    }
  }
  if (!error && napi_create_typedarray(env, napi_float64_array, j->result_len, buffer, 0, &result) != napi_ok)
    error = "could not create the result";
  if (error) {
    napi_value msg, err;
    napi_create_string_utf8(env, error, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  } else {
    napi_resolve_deferred(env, j->deferred, result);
  }
  release_output(j->out);
  if (j->ref_a) napi_delete_reference(env, j->ref_a);
  if (j->ref_b) napi_delete_reference(env, j->ref_b);
  if (j->own_a) free(j->a);
  free(j->keep);
  free(j->mean);
  napi_delete_async_work(env, j->work);
  free(j);
}

// Float64Array argument -> data pointer and length (doubles); NULL after throwing.
static double *f64_arg(napi_env env, napi_value v, size_t *len, napi_ref *ref) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok ||
      type != napi_float64_array) {
    napi_throw_type_error(env, "REPDYN_NATIVE", "expected a Float64Array");
    return NULL;
  }
  *len = length;
  if (ref) napi_create_reference(env, v, 1, ref);
  static double none;  // stands for an empty array's data (never read)
  return length ? (double *)data : &none;
}

static int int_arg(napi_env env, napi_value v, int *out) {
  int32_t x;
  if (napi_get_value_int32(env, v, &x) != napi_ok || x < 0) {
    napi_throw_type_error(env, "REPDYN_NATIVE", "expected a non-negative integer");
    return 0;
  }
  *out = x;
  return 1;
}

static napi_value queue(napi_env env, job_t *j) {
  napi_value promise, name;
  CHECK(env, napi_create_promise(env, &j->deferred, &promise));
  CHECK(env, napi_create_string_utf8(env, "repdyn-linalg", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, execute, complete, j, &j->work));
  CHECK(env, napi_queue_async_work(env, j->work));
  return promise;
}

static job_t *new_job(enum op op) {
  job_t *j = calloc(1, sizeof(job_t));
  if (j) j->op = op;
  return j;
}

static napi_value fail(napi_env env, job_t *j, const char *msg) {
  if (j) {
    if (j->ref_a) napi_delete_reference(env, j->ref_a);
    if (j->ref_b) napi_delete_reference(env, j->ref_b);
    if (j->own_a) free(j->a);
    free(j->keep);
    free(j->mean);
    free(j);
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "REPDYN_NATIVE", msg);
  return NULL;
}

// gemm(transA: boolean, a, b, m, n, k): transA ? a^T b (a [k, m]) : a b (a [m, k]); b [k, n].
static napi_value js_gemm(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return fail(env, NULL, "gemm(transA, a, b, m, n, k)");
  bool trans;
  CHECK(env, napi_get_value_bool(env, argv[0], &trans));
  job_t *j = new_job(trans ? OP_GEMM_TN : OP_GEMM_NN);
  size_t la, lb;
  if (!j || !int_arg(env, argv[3], &j->m) || !int_arg(env, argv[4], &j->n) || !int_arg(env, argv[5], &j->k))
    return fail(env, j, "bad shape");
  if (!(j->a = f64_arg(env, argv[1], &la, &j->ref_a)) || !(j->b = f64_arg(env, argv[2], &lb, &j->ref_b)))
    return fail(env, j, "bad argument");
  if (la != (size_t)j->m * j->k || lb != (size_t)j->k * j->n) return fail(env, j, "gemm: sizes do not match the shape");
  j->out_len = (size_t)j->m * j->n;
  return queue(env, j);
}

// trmmUpper(a, b, m, n): a b for a [m, n] and an upper triangular b [n, n] (dtrmm; b's strict lower
// triangle is not read); -> [m, n].
static napi_value js_trmm_upper(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return fail(env, NULL, "trmmUpper(a, b, m, n)");
  job_t *j = new_job(OP_TRMM_UPPER);
  size_t la, lb;
  if (!j || !int_arg(env, argv[2], &j->m) || !int_arg(env, argv[3], &j->n)) return fail(env, j, "bad shape");
  if (!(j->a = f64_arg(env, argv[0], &la, &j->ref_a)) || !(j->b = f64_arg(env, argv[1], &lb, &j->ref_b)))
    return fail(env, j, "bad argument");
  if (la != (size_t)j->m * j->n || lb != (size_t)j->n * j->n) return fail(env, j, "trmmUpper: sizes do not match the shape");
  j->out_len = (size_t)j->m * j->n;
  return queue(env, j);
}

// syrk(a, k, m): a^T a for a [k, m], both triangles.
static napi_value js_syrk(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return fail(env, NULL, "syrk(a, k, m)");
  job_t *j = new_job(OP_SYRK);
  size_t la;
  if (!j || !int_arg(env, argv[1], &j->k) || !int_arg(env, argv[2], &j->m)) return fail(env, j, "bad shape");
  if (!(j->a = f64_arg(env, argv[0], &la, &j->ref_a))) return fail(env, j, "bad argument");
  if (la != (size_t)j->k * j->m) return fail(env, j, "syrk: size does not match the shape");
  j->out_len = (size_t)j->m * j->m;
  return queue(env, j);
}

// One square (or, for svd, [m, n]) matrix copied in: eig/eigvals/cholinv(a, n), svd/svdvals(a, m, n).
static napi_value copied(napi_env env, napi_callback_info info, enum op op) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int svd = op == OP_SVD || op == OP_SVDVALS;
  if (argc < (svd ? 3u : 2u)) return fail(env, NULL, "missing arguments");
  job_t *j = new_job(op);
  size_t la;
  if (!j || !int_arg(env, argv[1], svd ? &j->m : &j->n)) return fail(env, j, "bad shape");
  if (svd && !int_arg(env, argv[2], &j->n)) return fail(env, j, "bad shape");
  if (!svd) j->m = j->n;
  double *src = f64_arg(env, argv[0], &la, NULL);
  if (!src) return fail(env, j, "bad argument");
  if (la != (size_t)j->m * j->n) return fail(env, j, "size does not match the shape");
  j->a = malloc(sizeof(double) * (la ? la : 1));
  if (!j->a) return fail(env, j, "out of memory");
  j->own_a = 1;
  memcpy(j->a, src, sizeof(double) * la);
  size_t n = (size_t)j->n, r = (size_t)imin(j->m, j->n);
  switch (op) {
    case OP_EIG: j->out_len = n + n * n; break;
    case OP_EIGVALS: j->out_len = n; break;
    case OP_CHOLINV: j->out_len = n * n; break;
    case OP_SVDVALS: j->out_len = r; break;
    default: j->out_len = r + (size_t)j->m * r + r * n; break;
  }
  return queue(env, j);
}

static napi_value js_eig(napi_env env, napi_callback_info info) { return copied(env, info, OP_EIG); }
static napi_value js_eigvals(napi_env env, napi_callback_info info) { return copied(env, info, OP_EIGVALS); }
static napi_value js_cholinv(napi_env env, napi_callback_info info) { return copied(env, info, OP_CHOLINV); }
static napi_value js_svdvals(napi_env env, napi_callback_info info) { return copied(env, info, OP_SVDVALS); }
static napi_value js_svd(napi_env env, napi_callback_info info) { return copied(env, info, OP_SVD); }

// gramEig(b, p, q, vectors: boolean): eigen-decomposition of the Gram of b [p, p or q, q] (smaller side).
static napi_value js_grameig(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return fail(env, NULL, "gramEig(b, p, q, vectors)");
  bool vectors;
  CHECK(env, napi_get_value_bool(env, argv[3], &vectors));
  job_t *j = new_job(vectors ? OP_GRAMEIG : OP_GRAMEIGVALS);
  size_t lb;
  if (!j || !int_arg(env, argv[1], &j->m) || !int_arg(env, argv[2], &j->n)) return fail(env, j, "bad shape");
  if (!(j->a = f64_arg(env, argv[0], &lb, &j->ref_a))) return fail(env, j, "bad argument");
  if (lb != (size_t)j->m * j->n) return fail(env, j, "gramEig: size does not match the shape");
  size_t small = (size_t)imin(j->m, j->n);
  j->out_len = vectors ? small + small * small : small;
  return queue(env, j);
}

// Float32Array or Float64Array argument of exactly `want` values (kept alive by j->ref_a).
static int raw_arg(napi_env env, napi_value v, size_t want, job_t *j) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok ||
      (type != napi_float64_array && type != napi_float32_array)) {
    napi_throw_type_error(env, "REPDYN_NATIVE", "expected a Float32Array or Float64Array");
    return 0;
  }
  if (length != want) {
    napi_throw_range_error(env, "REPDYN_NATIVE", "size does not match the shape");
    return 0;
  }
  static double none;
  if (type == napi_float32_array) j->af = length ? (const float *)data : (const float *)&none;
  else j->a = length ? (double *)data : &none;
  napi_create_reference(env, v, 1, &j->ref_a);
  return 1;
}

// colstats(a, n, d): column sums then varies flags [2d] of a [n, d] (float32 or float64).
static napi_value js_colstats(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return fail(env, NULL, "colstats(a, n, d)");
  job_t *j = new_job(OP_COLSTATS);
  if (!j || !int_arg(env, argv[1], &j->m) || !int_arg(env, argv[2], &j->n)) return fail(env, j, "bad shape");
  if (!raw_arg(env, argv[0], (size_t)j->m * j->n, j)) return fail(env, j, "bad argument");
  j->out_len = 4 * (size_t)j->n;
  return queue(env, j);
}

// centre(a, n, d, keep: Int32Array, mean: Float64Array[, scale]): (a[:, keep] - mean) * scale,
// [n, keep.length] (also exported as centreScaled, which tells that the scale is understood).
static napi_value js_centre(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return fail(env, NULL, "centre(a, n, d, keep, mean[, scale])");
  job_t *j = new_job(OP_CENTRE);
  if (j) j->scale = 1.0;
  if (j && argc >= 6) {
    napi_valuetype t;
    CHECK(env, napi_typeof(env, argv[5], &t));
    if (t != napi_undefined && (napi_get_value_double(env, argv[5], &j->scale) != napi_ok || !(j->scale > 0)))
      return fail(env, j, "centre: scale must be a positive number");
  }
  if (!j || !int_arg(env, argv[1], &j->m) || !int_arg(env, argv[2], &j->n)) return fail(env, j, "bad shape");
  if (!raw_arg(env, argv[0], (size_t)j->m * j->n, j)) return fail(env, j, "bad argument");
  napi_typedarray_type type;
  size_t klen, mlen, offset;
  void *kdata, *mdata;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[3], &type, &klen, &kdata, &ab, &offset) != napi_ok || type != napi_int32_array)
    return fail(env, j, "centre: keep must be an Int32Array");
  if (napi_get_typedarray_info(env, argv[4], &type, &mlen, &mdata, &ab, &offset) != napi_ok ||
      type != napi_float64_array || mlen != klen)
    return fail(env, j, "centre: mean must be a Float64Array as long as keep");
  for (size_t c = 0; c < klen; c++) {
    int32_t col = ((int32_t *)kdata)[c];
    if (col < 0 || col >= j->n) return fail(env, j, "centre: keep names a column outside the matrix");
  }
  j->k = (int)klen;
  j->keep = malloc(sizeof(int32_t) * (klen ? klen : 1));
  j->mean = malloc(sizeof(double) * (klen ? klen : 1));
  if (!j->keep || !j->mean) return fail(env, j, "out of memory");
  memcpy(j->keep, kdata, sizeof(int32_t) * klen);
  memcpy(j->mean, mdata, sizeof(double) * klen);
  j->out_len = (size_t)j->m * klen;
  return queue(env, j);
}

// setThreads(n): OpenBLAS threads per call.
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int n;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !int_arg(env, argv[0], &n) || n < 1) return fail(env, NULL, "setThreads(n >= 1)");
  openblas_set_num_threads(n);
  return NULL;
}

// opStats(): Float64Array [ops x 3]: calls, wall seconds, thread-CPU seconds per operation since load,
// in the order of enum op.
static napi_value js_op_stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value buffer, out;
  void *data;
  CHECK(env, napi_create_arraybuffer(env, sizeof(double) * N_OPS * 3, &data, &buffer));
  double *d = (double *)data;
  for (int i = 0; i < N_OPS; i++) {
    d[3 * i] = (double)__atomic_load_n(&op_stats[i][0], __ATOMIC_RELAXED);
    d[3 * i + 1] = (double)__atomic_load_n(&op_stats[i][1], __ATOMIC_RELAXED) / 1e9;
    d[3 * i + 2] = (double)__atomic_load_n(&op_stats[i][2], __ATOMIC_RELAXED) / 1e9;
  }
  CHECK(env, napi_create_typedarray(env, napi_float64_array, N_OPS * 3, buffer, 0, &out));
  return out;
}

// useCache(delta): delta engines more (or fewer) use the output cache; returns the users now. At 0, the
// kept blocks are freed.
static napi_value js_use_cache(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t delta = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &delta) != napi_ok) {
    napi_throw_type_error(env, "REPDYN_NATIVE", "expected an integer");
    return NULL;
  }
  pthread_mutex_lock(&cache_lock);
  cache_users += delta;
  if (cache_users < 0) cache_users = 0;
  int users = cache_users;
  if (users == 0) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
      free(cache[i].base);
      cache[i].base = NULL;
    }
    cached_bytes = 0;
  }
  pthread_mutex_unlock(&cache_lock);
  CHECK(env, napi_create_int32(env, users, &out));
  return out;
}

// cacheStats(): Float64Array [users, blocks kept, bytes kept, blocks reused since load].
static napi_value js_cache_stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value buffer, out;
  void *data;
  CHECK(env, napi_create_arraybuffer(env, sizeof(double) * 4, &data, &buffer));
  double *d = (double *)data;
  pthread_mutex_lock(&cache_lock);
  int blocks = 0;
  for (int i = 0; i < CACHE_SLOTS; i++) blocks += cache[i].base != NULL;
  d[0] = cache_users;
  d[1] = blocks;
  d[2] = (double)cached_bytes;
  d[3] = (double)cache_reuses;
  pthread_mutex_unlock(&cache_lock);
  CHECK(env, napi_create_typedarray(env, napi_float64_array, 4, buffer, 0, &out));
  return out;
}

static napi_value js_config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  char buf[512];
  snprintf(buf, sizeof buf, "%s; core %s", openblas_get_config(), openblas_get_corename());
  CHECK(env, napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &s));
  return s;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", NULL, js_gemm, NULL, NULL, NULL, napi_default, NULL},
      {"syrk", NULL, js_syrk, NULL, NULL, NULL, napi_default, NULL},
      {"eig", NULL, js_eig, NULL, NULL, NULL, napi_default, NULL},
      {"eigvals", NULL, js_eigvals, NULL, NULL, NULL, napi_default, NULL},
      {"cholinv", NULL, js_cholinv, NULL, NULL, NULL, napi_default, NULL},
      {"svdvals", NULL, js_svdvals, NULL, NULL, NULL, napi_default, NULL},
      {"trmmUpper", NULL, js_trmm_upper, NULL, NULL, NULL, napi_default, NULL},
      {"svd", NULL, js_svd, NULL, NULL, NULL, napi_default, NULL},
      {"gramEig", NULL, js_grameig, NULL, NULL, NULL, napi_default, NULL},
      {"colstats", NULL, js_colstats, NULL, NULL, NULL, napi_default, NULL},
      {"centre", NULL, js_centre, NULL, NULL, NULL, napi_default, NULL},
      {"centreScaled", NULL, js_centre, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"config", NULL, js_config, NULL, NULL, NULL, napi_default, NULL},
      {"opStats", NULL, js_op_stats, NULL, NULL, NULL, napi_default, NULL},
      {"useCache", NULL, js_use_cache, NULL, NULL, NULL, napi_default, NULL},
      {"cacheStats", NULL, js_cache_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
