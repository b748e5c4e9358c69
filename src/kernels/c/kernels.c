// gatescope fast kernels: float32 GEMM, fused LSTM/GRU/RNN cell steps, softmax cross-entropy, gradient-norm
// clipping and Adam, written once over the vector operations of simd.h and built two ways: wasm32 + SIMD128 (scripts/build-kernels.sh, the committed .wasm
// files) and x86-64 AVX2 + FMA inside the optional native addon (native.c, scripts/build-native.sh).
// Freestanding (no libc): pointers are byte addresses into memory the TypeScript side lays out.
#include "simd.h"

#ifndef EXPORT
#define EXPORT(name) __attribute__((export_name(#name))) void name
#define EXPORT_INT(name) __attribute__((export_name(#name))) int name
#endif

// ---- GEMM: C[M,N] (+)= A[M,K] B[K,N], A[m,k] = a[m*ars + k*acs], B row-major ----------------------
// GotoBLAS-style: blocks of A and B are packed into contiguous MR-row / NR-column panels (so strided
// operands such as dG^T stream sequentially), then an MR x NR register tile runs over each pair of panels.

// MR x NR register tile: 4 x 8 floats on SIMD128 (8 accumulators), 6 x 16 on AVX2 (12 of 16 registers).
#if VL == 4
#define MR 4
#define FOR_ROWS(X) X(0) X(1) X(2) X(3)
#else
#define MR 6
#define FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif
#define NR (2 * VL)
#define KC 256
#define MC 128
#define NC 512

// Per-thread scratch (no static buffers and no stack use, so threads can share one memory):
// packed A block, packed B block, one spill tile. A block's last panel is padded to MR rows, so the packed A
// block takes MC rounded up to whole panels (MC = 128 is not a multiple of AVX2's MR = 6), plus the VL floats
// pack_a_rows' last store may run past it.
#define PACK_A_FLOATS ((MC + MR - 1) / MR * MR * KC + VL)
#define SCRATCH_FLOATS (PACK_A_FLOATS + KC * NC + MR * NR)

// A block is packed as MR-row panels, k-major within a panel: dst[panel][k][r] = A[m0 + r, k].
// Row-major A (acs == 1, e.g. the head's dlogits in dX = dlogits·W): VL consecutive k of MR rows, transposed
// in registers. Every lane of a transposed vector is stored, so with MR < VL (AVX2) each store runs VL - MR
// floats into the slot that the next store (or the next panel, or the block's slack) overwrites.
static void pack_a_rows(float *dst, int mc, int kc, const float *a, int ars) {
  for (int m0 = 0; m0 < mc; m0 += MR, dst += MR * kc) {
    const int rows = mc - m0 < MR ? mc - m0 : MR;
    const float *src = a + m0 * ars;
    int k = 0;
    for (; k + VL <= kc; k += VL) {
      vf t[VL];
      for (int r = 0; r < VL; r++) t[r] = r < rows ? LOAD(src + r * ars + k) : SPLAT(0.f);
      transpose_lanes(t);
      for (int j = 0; j < VL; j++) STORE(dst + (k + j) * MR, t[j]);
    }
    for (; k < kc; k++)
      for (int r = 0; r < MR; r++) dst[k * MR + r] = r < rows ? src[r * ars + k] : 0.f;
  }
}

// Column-major A (ars == 1, e.g. dlogits^T in dW = dlogits^T·X): 16 k at a time for every panel, so the 16 runs of
// mc floats they read stay in L1 while the panels take them in turn, and each panel is written 16 k in a row. (One
// k for every panel at a time reads best but writes panels MR * kc floats apart: 4 KB on SIMD128, so every write
// of that k falls in the same L1 set.)
#define PACK_COLUMNS_K 16
static void pack_a_columns(float *dst, int mc, int kc, const float *a, int acs) {
  const int full = mc / MR * MR;
  for (int k0 = 0; k0 < kc; k0 += PACK_COLUMNS_K) {
    const int k1 = kc - k0 < PACK_COLUMNS_K ? kc : k0 + PACK_COLUMNS_K;
    float *d = dst + k0 * MR;
    for (int m0 = 0; m0 < full; m0 += MR, d += MR * kc)
      for (int k = k0; k < k1; k++) __builtin_memcpy(d + (k - k0) * MR, a + k * acs + m0, MR * sizeof(float));
    if (full < mc)
      for (int k = k0; k < k1; k++)
        for (int r = 0; r < MR; r++) d[(k - k0) * MR + r] = full + r < mc ? a[k * acs + full + r] : 0.f;
  }
}

static void pack_a(float *dst, int mc, int kc, const float *a, int ars, int acs) {
  if (acs == 1) return pack_a_rows(dst, mc, kc, a, ars);
  if (ars == 1) return pack_a_columns(dst, mc, kc, a, acs);
  for (int m0 = 0; m0 < mc; m0 += MR) {
    const int rows = mc - m0 < MR ? mc - m0 : MR;
    for (int k = 0; k < kc; k++) {
      int r = 0;
      for (; r < rows; r++) dst[r] = a[(m0 + r) * ars + k * acs];
      for (; r < MR; r++) dst[r] = 0.f;
      dst += MR;
    }
  }
}

static void pack_b(float *dst, int kc, int nc, const float *b, int ldb) {
  for (int n0 = 0; n0 < nc; n0 += NR) {
    const int cols = nc - n0 < NR ? nc - n0 : NR;
    const float *src = b + n0;
    if (cols == NR) {
      for (int k = 0; k < kc; k++, dst += NR, src += ldb) {
        STORE(dst, LOAD(src));
        STORE(dst + VL, LOAD(src + VL));
      }
    } else {
      for (int k = 0; k < kc; k++, dst += NR, src += ldb) {
        int c = 0;
        for (; c < cols; c++) dst[c] = src[c];
        for (; c < NR; c++) dst[c] = 0.f;
      }
    }
  }
}

// One tile over packed panels (A panels always hold MR rows): `ROWS` names the accumulator rows a
// variant keeps, so a short edge tile (e.g. the last 2 of 32 batch rows) does not pay for MR rows.
// Rows/cols short of the variant's tile go through a scratch tile.
#define DECLARE(r) vf c##r##0 = SPLAT(0.f), c##r##1 = c##r##0;
#define MULTIPLY_ADD(r) { const vf x = SPLAT(ap[r]); c##r##0 = MADD(x, b0, c##r##0); c##r##1 = MADD(x, b1, c##r##1); }
#define WRITE(r) {                                                                        \
    float *cr = c + (r) * ldc;                                                            \
    if (acc) { c##r##0 = ADD(c##r##0, LOAD(cr)); c##r##1 = ADD(c##r##1, LOAD(cr + VL)); } \
    STORE(cr, c##r##0); STORE(cr + VL, c##r##1);                                          \
  }
// The tile's rows of C are fetched (for writing) while the k loop runs: a product's output is rarely in cache.
#define PREFETCH_C(r) { __builtin_prefetch(c + (r) * ldc, 1); __builtin_prefetch(c + (r) * ldc + NR - 1, 1); }
#define SPILL(r) { STORE(t + (r) * NR, c##r##0); STORE(t + (r) * NR + VL, c##r##1); }
#define DEFINE_MICRO(name, tileRows, ROWS)                                                                           \
  static inline void name(int kc, const float *ap, const float *bp, float *c, int ldc, int rows, int cols, int acc, float *t) { \
    ROWS(DECLARE)                                                                                                    \
    ROWS(PREFETCH_C)                                                                                                 \
    for (int k = 0; k < kc; k++) {                                                                                   \
      const vf b0 = LOAD(bp), b1 = LOAD(bp + VL);                                                                    \
      ROWS(MULTIPLY_ADD)                                                                                             \
      ap += MR;                                                                                                      \
      bp += NR;                                                                                                      \
    }                                                                                                                \
    if (rows == (tileRows) && cols == NR) {                                                                          \
      ROWS(WRITE)                                                                                                    \
      return;                                                                                                        \
    }                                                                                                                \
    ROWS(SPILL)                                                                                                      \
    for (int r = 0; r < rows; r++)                                                                                   \
      for (int j = 0; j < cols; j++) c[r * ldc + j] = acc ? c[r * ldc + j] + t[r * NR + j] : t[r * NR + j];         \
  }

#define ROWS_1(X) X(0)
#define ROWS_2(X) X(0) X(1)
#define ROWS_4(X) X(0) X(1) X(2) X(3)
DEFINE_MICRO(micro_full, MR, FOR_ROWS)
DEFINE_MICRO(micro_2, 2, ROWS_2)
#if MR > 4
DEFINE_MICRO(micro_4, 4, ROWS_4)
#endif

/**
 * One row (a single sequence: a matrix-vector product). With one row, each accumulator's multiply-adds
 * form a dependency chain, so four k steps run on separate accumulators and are summed at the end.
 */
static inline void micro_1(int kc, const float *ap, const float *bp, float *c, int ldc, int rows, int cols, int acc, float *t) {
  (void)ldc;
  (void)rows;
  vf s0 = SPLAT(0.f), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  int k = 0;
  for (; k + 4 <= kc; k += 4, ap += 4 * MR, bp += 4 * NR) {
    vf x = SPLAT(ap[0]);
    s0 = MADD(x, LOAD(bp), s0); s1 = MADD(x, LOAD(bp + VL), s1);
    x = SPLAT(ap[MR]);
    s2 = MADD(x, LOAD(bp + NR), s2); s3 = MADD(x, LOAD(bp + NR + VL), s3);
    x = SPLAT(ap[2 * MR]);
    s4 = MADD(x, LOAD(bp + 2 * NR), s4); s5 = MADD(x, LOAD(bp + 2 * NR + VL), s5);
    x = SPLAT(ap[3 * MR]);
    s6 = MADD(x, LOAD(bp + 3 * NR), s6); s7 = MADD(x, LOAD(bp + 3 * NR + VL), s7);
  }
  for (; k < kc; k++, ap += MR, bp += NR) {
    const vf x = SPLAT(ap[0]);
    s0 = MADD(x, LOAD(bp), s0); s1 = MADD(x, LOAD(bp + VL), s1);
  }
  vf c00 = ADD(ADD(s0, s2), ADD(s4, s6)), c01 = ADD(ADD(s1, s3), ADD(s5, s7));
  if (cols == NR) {
    WRITE(0)
    return;
  }
  SPILL(0)
  for (int j = 0; j < cols; j++) c[j] = acc ? c[j] + t[j] : t[j];
}

static inline void micro(int kc, const float *ap, const float *bp, float *c, int ldc, int rows, int cols, int acc, float *t) {
  if (rows == 1) micro_1(kc, ap, bp, c, ldc, rows, cols, acc, t);
  else if (rows == 2) micro_2(kc, ap, bp, c, ldc, rows, cols, acc, t);
#if MR > 4
  else if (rows <= 4) micro_4(kc, ap, bp, c, ldc, rows, cols, acc, t);
#endif
  else micro_full(kc, ap, bp, c, ldc, rows, cols, acc, t);
}

EXPORT_INT(gemm_scratch_floats)(void) { return SCRATCH_FLOATS; }

static inline int round_nr(int n) { return (n + NR - 1) / NR * NR; }

/** Floats that B [K, N] takes packed for gemm_prepacked: every column block rounded up to whole panels. */
EXPORT_INT(packed_b_floats)(int K, int N) {
  int total = 0;
  for (int jc = 0; jc < N; jc += NC) total += K * round_nr(N - jc < NC ? N - jc : NC);
  return total;
}

/** Packs all of B once (weights: packed after each optimizer step instead of at every timestep). */
EXPORT(pack_b_full)(int K, int N, const float *b, int ldb, float *dst) {
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = N - jc < NC ? N - jc : NC;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = K - pc < KC ? K - pc : KC;
      pack_b(dst, kc, nc, b + pc * ldb + jc, ldb);
      dst += kc * round_nr(nc);
    }
  }
}

/** pack_b for B = W^T, W [N, K] row-major (leading dimension ldw): B[k, n] = w[n * ldw + k]. */
static void pack_bt(float *dst, int kc, int nc, const float *w, int ldw) {
  for (int n0 = 0; n0 < nc; n0 += NR) {
    const int cols = nc - n0 < NR ? nc - n0 : NR;
    const float *src = w + n0 * ldw;
    for (int k = 0; k < kc; k++, dst += NR) {
      int c = 0;
      for (; c < cols; c++) dst[c] = src[c * ldw + k];
      for (; c < NR; c++) dst[c] = 0.f;
    }
  }
}

/** pack_b_full of B = W^T without a transposed copy: W [N, K] row-major (a Linear's or an RNN's weight). */
EXPORT(pack_bt_full)(int K, int N, const float *w, int ldw, float *dst) {
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = N - jc < NC ? N - jc : NC;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = K - pc < KC ? K - pc : KC;
      pack_bt(dst, kc, nc, w + jc * ldw + pc, ldw);
      dst += kc * round_nr(nc);
    }
  }
}

/**
 * prepacked: B [K, packedN] as pack_b_full wrote it, of which columns [col0, col0 + N) are used (col0 a multiple
 * of NR: two threads share one packed weight by columns); or 0 to pack B blocks into scratch as they are needed.
 */
static void gemm_impl(int M, int N, int K, const float *a, int ars, int acs, const float *b, int ldb, float *c, int ldc,
                      int accumulate, float *scratch, const float *prepacked, int packedN, int col0) {
  float *packA = scratch, *packB = scratch + PACK_A_FLOATS, *tile = packB + KC * NC;
  if (K == 0) {
    if (!accumulate) for (int m = 0; m < M; m++) for (int n = 0; n < N; n++) c[m * ldc + n] = 0.f;
    return;
  }
  if (!prepacked) packedN = N, col0 = 0;
  for (int jc = col0; jc < col0 + N;) {
    // The packed column block holding column jc: blocks before it take K * NC floats each.
    const int block = jc / NC * NC, blockWidth = packedN - block < NC ? packedN - block : NC;
    const int end = col0 + N < block + blockWidth ? col0 + N : block + blockWidth, nc = end - jc;
    float *cblock = c + (jc - col0);
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = K - pc < KC ? K - pc : KC;
      const int acc = accumulate || pc > 0;
      const float *bblock = packB;
      if (prepacked) {
        bblock = prepacked + (long)K * block + (long)pc * round_nr(blockWidth) + (long)(jc - block) * kc;
      } else {
        pack_b(packB, kc, nc, b + pc * ldb + jc, ldb);
      }
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = M - ic < MC ? M - ic : MC;
        pack_a(packA, mc, kc, a + ic * ars + pc * acs, ars, acs);
        for (int jr = 0; jr < nc; jr += NR) {
          const int cols = nc - jr < NR ? nc - jr : NR;
          const float *bp = bblock + jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int rows = mc - ir < MR ? mc - ir : MR;
            micro(kc, packA + ir * kc, bp, cblock + (ic + ir) * ldc + jr, ldc, rows, cols, acc, tile);
          }
        }
      }
    }
    jc = end;
  }
}

/** `scratch`: SCRATCH_FLOATS floats, 16-byte aligned, private to the calling thread. */
EXPORT(gemm)(int M, int N, int K, const float *a, int ars, int acs, const float *b, int ldb, float *c, int ldc, int accumulate,
             float *scratch) {
  gemm_impl(M, N, K, a, ars, acs, b, ldb, c, ldc, accumulate, scratch, 0, 0, 0);
}

/** C[M, N] (+)= A · columns [col0, col0 + N) of B [K, packedN] pre-packed by pack_b_full (col0 a multiple of NR). */
EXPORT(gemm_prepacked)(int M, int N, int K, const float *a, int ars, int acs, const float *packed, int packedN, int col0,
                       float *c, int ldc, int accumulate, float *scratch) {
  gemm_impl(M, N, K, a, ars, acs, 0, 0, c, ldc, accumulate, scratch, packed, packedN, col0);
}

/** Column split of a two-thread product on a register-tile boundary: [0, n) on one thread, [n, N) on the other. */
EXPORT_INT(gemm_split_columns)(int N) {
  if (N < 2 * NR) return N;
  const int n0 = (N / 2 + NR / 2) / NR * NR;
  return n0 < NR ? NR : n0 > N - NR ? N - NR : n0;
}

/**
 * Where a two-thread product of a tall A splits its rows instead (a column split makes both threads pack all of A):
 * the first row of the second half, on a register-tile boundary; 0 to split by columns.
 */
EXPORT_INT(gemm_split_rows)(int M, int N) { return M >= 256 && M > N ? (M / 2 + MR / 2) / MR * MR : 0; }

// ---- data movement --------------------------------------------------------------------------------

EXPORT(transpose)(const float *src, int rows, int cols, float *dst) {
  for (int r0 = 0; r0 < rows; r0 += 16)
    for (int c0 = 0; c0 < cols; c0 += 16) {
      const int r1 = rows - r0 < 16 ? rows : r0 + 16, c1 = cols - c0 < 16 ? cols : c0 + 16;
      for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
    }
}

static inline void add_rows(float *out, const float *x, const float *y, int width) {
  int j = 0;
  for (; j + VL <= width; j += VL) STORE(out + j, ADD(LOAD(x + j), LOAD(y + j)));
  for (; j < width; j++) out[j] = x[j] + y[j];
}

EXPORT(gather_rows)(float *out, const float *table, int width, int rows, const float *bias, const int *tokens) {
  for (int r = 0; r < rows; r++) add_rows(out + r * width, table + tokens[r] * width, bias, width);
}

EXPORT(add_row_bias)(float *out, int rows, int width, const float *bias) {
  for (int r = 0; r < rows; r++) add_rows(out + r * width, out + r * width, bias, width);
}

EXPORT(scatter_add_rows)(const float *src, int width, int rows, float *dst, const int *tokens) {
  for (int r = 0; r < rows; r++) {
    float *d = dst + tokens[r] * width;
    add_rows(d, d, src + r * width, width);
  }
}

EXPORT(col_sum)(const float *src, int rows, int cols, float *dst) {
  for (int j = 0; j < cols; j++) dst[j] = 0.f;
  for (int r = 0; r < rows; r++) add_rows(dst, dst, src + r * cols, cols);
}

// ---- activations (Cephes-style single precision, vectorised) --------------------------------------

static inline vf vexp(vf x) {
  x = VMAX(VMIN(x, SPLAT(88.0f)), SPLAT(-87.0f));
  const vf fx = ROUND_NEAREST(MUL(x, SPLAT(1.44269504088896341f)));
  x = SUB(x, MUL(fx, SPLAT(0.693359375f)));
  x = SUB(x, MUL(fx, SPLAT(-2.12194440e-4f)));
  const vf z = MUL(x, x);
  vf y = SPLAT(1.9875691500e-4f);
  y = ADD(MUL(y, x), SPLAT(1.3981999507e-3f));
  y = ADD(MUL(y, x), SPLAT(8.3334519073e-3f));
  y = ADD(MUL(y, x), SPLAT(4.1665795894e-2f));
  y = ADD(MUL(y, x), SPLAT(1.6666665459e-1f));
  y = ADD(MUL(y, x), SPLAT(5.0000001201e-1f));
  y = ADD(ADD(MUL(y, z), x), SPLAT(1.f));
  return MUL(y, pow2_whole(fx));
}

static inline vf vsigmoid(vf x) { return DIV(SPLAT(1.f), ADD(SPLAT(1.f), vexp(NEG(x)))); }

static inline vf vhard_sigmoid(vf x) {
  return VMIN(VMAX(ADD(MUL(x, SPLAT(0.2f)), SPLAT(0.5f)), SPLAT(0.f)), SPLAT(1.f));
}

static inline vf vgate(vf x, int hard) { return hard ? vhard_sigmoid(x) : vsigmoid(x); }

/** dy/dx through the output y. */
static inline vf vdgate(vf y, int hard) {
  if (!hard) return MUL(y, SUB(SPLAT(1.f), y));
  const vf inside = AND(GT(y, SPLAT(0.f)), LT(y, SPLAT(1.f)));
  return AND(inside, SPLAT(0.2f));
}

static inline vf vtanh(vf x) {
  const vf ax = VABS(x);
  // |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1) with the sign of x; below, an odd polynomial (no cancellation).
  const vf big = SUB(SPLAT(1.f), DIV(SPLAT(2.f), ADD(vexp(ADD(ax, ax)), SPLAT(1.f))));
  const vf bigSigned = OR(big, SIGN_BITS(x));
  const vf z = MUL(x, x);
  vf p = SPLAT(-5.70498872745e-3f);
  p = ADD(MUL(p, z), SPLAT(2.06390887954e-2f));
  p = ADD(MUL(p, z), SPLAT(-5.37397155531e-2f));
  p = ADD(MUL(p, z), SPLAT(1.33314422036e-1f));
  p = ADD(MUL(p, z), SPLAT(-3.33332819422e-1f));
  const vf small = ADD(MUL(MUL(p, z), x), x);
  return SELECT(small, bigSigned, LT(ax, SPLAT(0.625f)));
}

// Tails (H not a multiple of VL) run the same vector code on a padded copy of the lane.
#define LANE(v) LANE0(v)

// ---- LSTM (gates i f g o) -------------------------------------------------------------------------

static inline void lstm_fwd_vec(float *g, int H, const float *cp, float *c, float *tc, float *h, int j, int hard) {
  const vf i = vgate(LOAD(g + j), hard), f = vgate(LOAD(g + H + j), hard);
  const vf gg = vtanh(LOAD(g + 2 * H + j)), o = vgate(LOAD(g + 3 * H + j), hard);
  STORE(g + j, i); STORE(g + H + j, f); STORE(g + 2 * H + j, gg); STORE(g + 3 * H + j, o);
  const vf cv = ADD(MUL(f, LOAD(cp + j)), MUL(i, gg));
  const vf t = vtanh(cv);
  STORE(c + j, cv); STORE(tc + j, t); STORE(h + j, MUL(o, t));
}

EXPORT(lstm_forward)(int B, int H, float *gates, const float *cPrev, float *c, float *tc, float *h, int hard) {
  const int Hv = H - H % VL;
  for (int b = 0; b < B; b++) {
    float *g = gates + b * 4 * H;
    const float *cp = cPrev + b * H;
    float *cb = c + b * H, *tb = tc + b * H, *hb = h + b * H;
    for (int j = 0; j < Hv; j += VL) lstm_fwd_vec(g, H, cp, cb, tb, hb, j, hard);
    for (int j = Hv; j < H; j++) {
      const float i = LANE(vgate(SPLAT(g[j]), hard)), f = LANE(vgate(SPLAT(g[H + j]), hard));
      const float gg = LANE(vtanh(SPLAT(g[2 * H + j]))), o = LANE(vgate(SPLAT(g[3 * H + j]), hard));
      g[j] = i; g[H + j] = f; g[2 * H + j] = gg; g[3 * H + j] = o;
      const float cv = f * cp[j] + i * gg;
      const float t = LANE(vtanh(SPLAT(cv)));
      cb[j] = cv; tb[j] = t; hb[j] = o * t;
    }
  }
}

EXPORT(lstm_backward)(int B, int H, const float *gates, const float *cPrev, const float *tc, const float *dhIn,
                      const float *dhRec, float *dc, float *dG, int hard) {
  const vf one = SPLAT(1.f);
  for (int b = 0; b < B; b++) {
    const float *g = gates + b * 4 * H, *cp = cPrev + b * H, *t = tc + b * H, *di = dhIn + b * H, *dr = dhRec + b * H;
    float *dcb = dc + b * H, *d = dG + b * 4 * H;
    int j = 0;
    for (; j + VL <= H; j += VL) {
      const vf i = LOAD(g + j), f = LOAD(g + H + j), gg = LOAD(g + 2 * H + j), o = LOAD(g + 3 * H + j);
      const vf tv = LOAD(t + j);
      const vf dh = ADD(LOAD(di + j), LOAD(dr + j));
      const vf dct = ADD(LOAD(dcb + j), MUL(MUL(dh, o), SUB(one, MUL(tv, tv))));
      STORE(d + j, MUL(MUL(dct, gg), vdgate(i, hard)));
      STORE(d + H + j, MUL(MUL(dct, LOAD(cp + j)), vdgate(f, hard)));
      STORE(d + 2 * H + j, MUL(MUL(dct, i), SUB(one, MUL(gg, gg))));
      STORE(d + 3 * H + j, MUL(MUL(dh, tv), vdgate(o, hard)));
      STORE(dcb + j, MUL(dct, f));
    }
    for (; j < H; j++) {
      const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j], tv = t[j];
      const float dh = di[j] + dr[j];
      const float dct = dcb[j] + dh * o * (1.f - tv * tv);
      d[j] = dct * gg * LANE(vdgate(SPLAT(i), hard));
      d[H + j] = dct * cp[j] * LANE(vdgate(SPLAT(f), hard));
      d[2 * H + j] = dct * i * (1.f - gg * gg);
      d[3 * H + j] = dh * tv * LANE(vdgate(SPLAT(o), hard));
      dcb[j] = dct * f;
    }
  }
}

// ---- GRU (gates r z n, reset applied after the hidden matmul as in PyTorch) -----------------------

EXPORT(gru_forward)(int B, int H, float *gates, const float *hproj, const float *bhn, const float *hPrev, float *h,
                    float *hn, int hard) {
  for (int b = 0; b < B; b++) {
    float *g = gates + b * 3 * H, *hb = h + b * H, *hnb = hn + b * H;
    const float *p = hproj + b * 3 * H, *hp = hPrev + b * H;
    int j = 0;
    for (; j + VL <= H; j += VL) {
      const vf r = vgate(ADD(LOAD(g + j), LOAD(p + j)), hard);
      const vf z = vgate(ADD(LOAD(g + H + j), LOAD(p + H + j)), hard);
      const vf hv = ADD(LOAD(p + 2 * H + j), LOAD(bhn + j));
      const vf n = vtanh(ADD(LOAD(g + 2 * H + j), MUL(r, hv)));
      STORE(hnb + j, hv); STORE(g + j, r); STORE(g + H + j, z); STORE(g + 2 * H + j, n);
      STORE(hb + j, ADD(n, MUL(z, SUB(LOAD(hp + j), n))));
    }
    for (; j < H; j++) {
      const float r = LANE(vgate(SPLAT(g[j] + p[j]), hard)), z = LANE(vgate(SPLAT(g[H + j] + p[H + j]), hard));
      const float hv = p[2 * H + j] + bhn[j];
      const float n = LANE(vtanh(SPLAT(g[2 * H + j] + r * hv)));
      hnb[j] = hv; g[j] = r; g[H + j] = z; g[2 * H + j] = n;
      hb[j] = n + z * (hp[j] - n);
    }
  }
}

EXPORT(gru_backward)(int B, int H, const float *gates, const float *hn, const float *hPrev, const float *dhIn,
                     float *dhRec, float *dGi, float *dGh, int hard) {
  const vf one = SPLAT(1.f);
  for (int b = 0; b < B; b++) {
    const float *g = gates + b * 3 * H, *hnb = hn + b * H, *hp = hPrev + b * H, *di = dhIn + b * H;
    float *dr = dhRec + b * H, *gi = dGi + b * 3 * H, *gh = dGh + b * 3 * H;
    int j = 0;
    for (; j + VL <= H; j += VL) {
      const vf r = LOAD(g + j), z = LOAD(g + H + j), n = LOAD(g + 2 * H + j);
      const vf dh = ADD(LOAD(di + j), LOAD(dr + j));
      const vf dnPre = MUL(MUL(dh, SUB(one, z)), SUB(one, MUL(n, n)));
      const vf drPre = MUL(MUL(dnPre, LOAD(hnb + j)), vdgate(r, hard));
      const vf dzPre = MUL(MUL(dh, SUB(LOAD(hp + j), n)), vdgate(z, hard));
      STORE(gi + j, drPre); STORE(gi + H + j, dzPre); STORE(gi + 2 * H + j, dnPre);
      STORE(gh + j, drPre); STORE(gh + H + j, dzPre); STORE(gh + 2 * H + j, MUL(dnPre, r));
      STORE(dr + j, MUL(dh, z));
    }
    for (; j < H; j++) {
      const float r = g[j], z = g[H + j], n = g[2 * H + j];
      const float dh = di[j] + dr[j];
      const float dnPre = dh * (1.f - z) * (1.f - n * n);
      const float drPre = dnPre * hnb[j] * LANE(vdgate(SPLAT(r), hard));
      const float dzPre = dh * (hp[j] - n) * LANE(vdgate(SPLAT(z), hard));
      gi[j] = drPre; gi[H + j] = dzPre; gi[2 * H + j] = dnPre;
      gh[j] = drPre; gh[H + j] = dzPre; gh[2 * H + j] = dnPre * r;
      dr[j] = dh * z;
    }
  }
}

// ---- Elman RNN ------------------------------------------------------------------------------------

EXPORT(rnn_forward)(int B, int H, const float *pre, float *h, int relu) {
  const int n = B * H;
  int i = 0;
  for (; i + VL <= n; i += VL) {
    const vf x = LOAD(pre + i);
    STORE(h + i, relu ? VMAX(x, SPLAT(0.f)) : vtanh(x));
  }
  for (; i < n; i++) h[i] = relu ? (pre[i] > 0.f ? pre[i] : 0.f) : LANE(vtanh(SPLAT(pre[i])));
}

EXPORT(rnn_backward)(int B, int H, const float *h, const float *dhIn, const float *dhRec, float *dG, int relu) {
  const int n = B * H;
  int i = 0;
  for (; i + VL <= n; i += VL) {
    const vf y = LOAD(h + i), dh = ADD(LOAD(dhIn + i), LOAD(dhRec + i));
    const vf d = relu ? AND(GT(y, SPLAT(0.f)), SPLAT(1.f)) : SUB(SPLAT(1.f), MUL(y, y));
    STORE(dG + i, MUL(dh, d));
  }
  for (; i < n; i++) {
    const float dh = dhIn[i] + dhRec[i];
    dG[i] = dh * (relu ? (h[i] > 0.f ? 1.f : 0.f) : 1.f - h[i] * h[i]);
  }
}

// ---- a whole layer's recurrence ----------------------------------------------------------------
// Per step the column-split GEMM and the row-split cell step each need a hand-off between the threads.
// Batch rows never interact, so each thread can instead run the whole time loop for its own rows: one
// hand-off per layer and window. The layer's buffers are the LM driver's: time-major, step t's rows from
// row offset[t] on, n_t = offset[t + 1] - offset[t] of them (packed sequences, longest first: n_t never grows),
// or B rows per step (offset NULL). hs and cs hold h0 in their first B rows, then step t's outputs at B + offset[t].
typedef struct {
  int module, T, B, H, flag; // module 0 LSTM, 1 GRU, 2 RNN; flag: hard sigmoid (LSTM, GRU) or relu (RNN)
  const int *offset;         // [T + 1] first row of each step, or NULL: t * B
  float *gates, *hs, *cs, *tc, *hn, *hproj;
  const float *packed;       // W_hh^T packed by pack_bt_full
  const float *table, *bias; // table 0: the gates already hold the input projection
  const int *tokens;         // the step rows' token ids (with a table)
  const float *bhn;          // GRU's b_hn
  // Backward only: the gradients on the layer's outputs [T*B, H]; the ones carried to h_{t-1} and (LSTM) c_{t-1}
  // [B, H]; the gates' pre-activation gradients [T*B, G*H] (GRU: dGh for the hidden part); W_hh packed by pack_b_full.
  const float *dhIn;
  float *dhRec, *dc, *dGi, *dGh;
  const float *packedW;
} LayerJob;

static inline long step_row(const LayerJob *j, int t) { return j->offset ? j->offset[t] : (long)t * j->B; }

/** How many of rows [b0, b0 + rows) step t runs (0 or less once the sequences from b0 on have ended). */
static inline int step_rows(const LayerJob *j, int t, int b0, int rows) {
  const int n = j->offset ? j->offset[t + 1] - j->offset[t] : j->B;
  return (n < b0 + rows ? n : b0 + rows) - b0;
}

/** Row of h_{t-1} (and c_{t-1}) in hs (cs) for the first of step t's rows. */
static inline long prev_row(const LayerJob *j, int t) { return t == 0 ? 0 : j->B + step_row(j, t - 1); }

/**
 * The first row of the second thread's share: half the rows of every step, or for packed steps (the longest
 * sequences first) the row that splits the steps' rows in two equal sums.
 */
static int layer_split(const LayerJob *j) {
  const int B = j->B;
  if (!j->offset) return B / 2;
  const long total = j->offset[j->T];
  long work = 0; // rows of every step below row b
  for (int b = 1; b < B; b++) {
    for (int t = 0; t < j->T && j->offset[t + 1] - j->offset[t] >= b; t++) work++;
    if (2 * work >= total) return b;
  }
  return B / 2;
}

/** Rows [b0, b0 + rows) of every step of a set-up layer (scratch private to the calling thread). */
static void layer_forward_rows(const LayerJob *j, int b0, int rows, float *scratch) {
  const int module = j->module, B = j->B, H = j->H, G = module == 0 ? 4 : module == 1 ? 3 : 1, GH = G * H;
  for (int t = 0; t < j->T; t++) {
    const int m = step_rows(j, t, b0, rows);
    if (m <= 0) break; // packed steps only shrink
    const long row = step_row(j, t) + b0, prev = prev_row(j, t) + b0;
    float *g = j->gates + row * GH;
    const float *hPrev = j->hs + prev * H;
    float *h = j->hs + (row + B) * H;
    if (j->table) gather_rows(g, j->table, GH, m, j->bias, j->tokens + row);
    // GRU: h W_hh^T goes to its own buffer (the reset gate scales part of it); else it adds to the gates.
    float *out = module == 1 ? j->hproj + (long)b0 * GH : g;
    gemm_prepacked(m, GH, H, hPrev, H, 1, j->packed, GH, 0, out, GH, module != 1, scratch);
    if (module == 0) lstm_forward(m, H, g, j->cs + prev * H, j->cs + (row + B) * H, j->tc + row * H, h, j->flag);
    else if (module == 1) gru_forward(m, H, g, out, j->bhn, hPrev, h, j->hn + row * H, j->flag);
    else rnn_forward(m, H, g, h, j->flag);
  }
}

/**
 * BPTT through rows [b0, b0 + rows) of every step, last step first (the LM driver's per-step backward loop).
 * Going back the running sequences only grow, and a row that joins starts from the zeros dhRec and dc came in with.
 */
static void layer_backward_rows(const LayerJob *j, int b0, int rows, float *scratch) {
  const int module = j->module, B = j->B, H = j->H, G = module == 0 ? 4 : module == 1 ? 3 : 1, GH = G * H;
  float *dhRec = j->dhRec + (long)b0 * H;
  for (int t = j->T - 1; t >= 0; t--) {
    const int m = step_rows(j, t, b0, rows);
    if (m <= 0) continue;
    const long row = step_row(j, t) + b0, prev = prev_row(j, t) + b0;
    const float *g = j->gates + row * GH, *hPrev = j->hs + prev * H, *dhIn = j->dhIn + row * H;
    float *dGi = j->dGi + row * GH;
    if (module == 0) {
      lstm_backward(m, H, g, j->cs + prev * H, j->tc + row * H, dhIn, dhRec, j->dc + (long)b0 * H, dGi, j->flag);
      gemm_prepacked(m, H, GH, dGi, GH, 1, j->packedW, H, 0, dhRec, H, 0, scratch);
    } else if (module == 1) {
      float *dGh = j->dGh + row * GH;
      gru_backward(m, H, g, j->hn + row * H, hPrev, dhIn, dhRec, dGi, dGh, j->flag);
      gemm_prepacked(m, H, GH, dGh, GH, 1, j->packedW, H, 0, dhRec, H, 1, scratch);
    } else {
      rnn_backward(m, H, j->hs + (row + B) * H, dhIn, dhRec, dGi, j->flag);
      gemm_prepacked(m, H, GH, dGi, GH, 1, j->packedW, H, 0, dhRec, H, 0, scratch);
    }
  }
}

#ifdef __wasm__
EXPORT_INT(layer_job_bytes)(void) { return (int)sizeof(LayerJob); }
EXPORT(layer_job_init)(LayerJob *j, int module, int T, int B, int H, const int *offset, float *gates, float *hs, float *cs, float *tc,
                       float *hn, float *hproj, const float *packed, const float *table, const float *bias, const int *tokens,
                       const float *bhn, int flag) {
  *j = (LayerJob){module, T, B, H, flag, offset, gates, hs, cs, tc, hn, hproj, packed, table, bias, tokens, bhn, 0, 0, 0, 0, 0, 0};
}
EXPORT_INT(layer_job_split)(const LayerJob *j) { return layer_split(j); }
EXPORT(layer_job_backward)(LayerJob *j, const float *dhIn, float *dhRec, float *dc, float *dGi, float *dGh, const float *packedW) {
  j->dhIn = dhIn; j->dhRec = dhRec; j->dc = dc; j->dGi = dGi; j->dGh = dGh; j->packedW = packedW;
}
EXPORT(layer_forward_run)(const LayerJob *j, int b0, int rows, float *scratch) { layer_forward_rows(j, b0, rows, scratch); }
EXPORT(layer_backward_run)(const LayerJob *j, int b0, int rows, float *scratch) { layer_backward_rows(j, b0, rows, scratch); }
#endif

// ---- softmax cross-entropy ------------------------------------------------------------------------

/**
 * Softmax cross-entropy over the rows of logits x [rows, V], with bias [V] added in place first when bias != 0.
 * Row r with target t = targets[r] >= 0 writes stats[3r..3r+2] = max, sum of exp(x - max), x[t] (its loss is
 * log(sum) + max - x[t]); a negative target (ignore_index) writes 0, 1, 0. When *scale != 0 every row becomes
 * scale * (softmax - onehot(t)), zeros for the ignored ones (the gradient of the mean loss for scale 1/count),
 * and with colsum != 0 (V floats) its column sums are added there: the head bias's gradient, without another
 * pass over the rows.
 */
EXPORT(softmax_xent)(float *x, int rows, int V, const int *targets, const float *bias, const float *scale, float *stats, float *colsum) {
  const float g = *scale;
  const int Vv = V - V % VL;
  for (int r = 0; r < rows; r++) {
    float *row = x + (long)r * V;
    const int t = targets[r];
    float *st = stats + 3 * r;
    if (t < 0) {
      if (g != 0.f) for (int j = 0; j < V; j++) row[j] = 0.f;
      else if (bias) add_rows(row, row, bias, V);
      st[0] = 0.f; st[1] = 1.f; st[2] = 0.f;
      continue;
    }
    vf vm = SPLAT(-__builtin_inff());
    float m = -__builtin_inff();
    int j = 0;
    if (bias) {
      for (; j < Vv; j += VL) {
        const vf v = ADD(LOAD(row + j), LOAD(bias + j));
        STORE(row + j, v);
        vm = VMAX(v, vm);
      }
      for (; j < V; j++) { row[j] += bias[j]; m = row[j] > m ? row[j] : m; }
    } else {
      for (; j < Vv; j += VL) vm = VMAX(LOAD(row + j), vm);
      for (; j < V; j++) m = row[j] > m ? row[j] : m;
    }
    const float hm = hmax(vm);
    m = hm > m ? hm : m;
    st[0] = m;
    st[2] = row[t];
    const vf vmax = SPLAT(m);
    vf s0 = SPLAT(0.f), s1 = s0;
    float sum = 0.f;
    j = 0;
    for (; j + 2 * VL <= Vv; j += 2 * VL) {
      const vf e0 = vexp(SUB(LOAD(row + j), vmax)), e1 = vexp(SUB(LOAD(row + j + VL), vmax));
      s0 = ADD(s0, e0); s1 = ADD(s1, e1);
      if (g != 0.f) { STORE(row + j, e0); STORE(row + j + VL, e1); }
    }
    for (; j < V; j++) {
      const float e = LANE(vexp(SPLAT(row[j] - m)));
      sum += e;
      if (g != 0.f) row[j] = e;
    }
    sum += hsum(ADD(s0, s1));
    st[1] = sum;
    if (g == 0.f) continue;
    const float f = g / sum;
    const vf vf_ = SPLAT(f);
    if (colsum) {
      for (j = 0; j < Vv; j += VL) {
        const vf d = MUL(LOAD(row + j), vf_);
        STORE(row + j, d);
        STORE(colsum + j, ADD(LOAD(colsum + j), d));
      }
      for (; j < V; j++) colsum[j] += row[j] *= f;
      colsum[t] -= g;
    } else {
      for (j = 0; j < Vv; j += VL) STORE(row + j, MUL(LOAD(row + j), vf_));
      for (; j < V; j++) row[j] *= f;
    }
    row[t] -= g;
  }
}

// ---- gradient clipping ----------------------------------------------------------------------------

/** *out = sum of x[i]^2 in double precision (torch.nn.utils.clip_grad_norm_'s total, squared). */
EXPORT(sum_squares)(const float *x, int n, double *out) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const double a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
    s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d;
  }
  for (; i < n; i++) s0 += (double)x[i] * x[i];
  *out = (s0 + s1) + (s2 + s3);
}

/** x[i] *= *factor. */
EXPORT(scale)(float *x, int n, const float *factor) {
  const float f = *factor;
  const vf v = SPLAT(f);
  int i = 0;
  for (; i + VL <= n; i += VL) STORE(x + i, MUL(LOAD(x + i), v));
  for (; i < n; i++) x[i] *= f;
}

// ---- Adam (torch.optim.Adam, PyTorch 1.13 single-tensor formulas) --------------------------------
// In double precision with float32 storage, operation for operation as src/core/optim.ts does it in
// JavaScript, so the updates are bit-identical to the reference engine's.
// hyper: beta1, beta2, step_size = lr / (1 - beta1^t), sqrt(1 - beta2^t), eps, weight_decay.
EXPORT(adam_step)(int n, float *p, const float *g, float *m, float *v, const double *hyper) {
  const double beta1 = hyper[0], beta2 = hyper[1], stepSize = hyper[2], bc2Sqrt = hyper[3], eps = hyper[4], wd = hyper[5];
  for (int i = 0; i < n; i++) {
    const double d = wd != 0.0 ? (double)g[i] + wd * (double)p[i] : (double)g[i];
    const float mi = (float)((double)m[i] * beta1 + (1.0 - beta1) * d);
    const float vi = (float)((double)v[i] * beta2 + (1.0 - beta2) * d * d);
    m[i] = mi;
    v[i] = vi;
    p[i] = (float)((double)p[i] + -stepSize * ((double)mi / (__builtin_sqrt((double)vi) / bc2Sqrt + eps)));
  }
}

// ---- one sequence with the weights resident: the document sweep -----------------------------------
// A document is one sequence (batch 1), so each step's recurrent product is one row h_{t-1} against W_hh^T.
// W_hh^T is packed in panels of SEQ_UB(G) hidden units: panel p holds, for each k < H, the G gates' weights
// of its units [p*UB, p*UB + w) (w = UB, or what is left in the last panel; units >= H are zero), laid out
// [H][G][w] at offset p*UB*G*H (G*H*Hp floats in all, Hp = H rounded up to 8). One panel's G*w outputs fit in
// the vector registers (8 accumulators), so the cell math runs on them at once, unit by unit: gates are
// never stored. Rows of h, c, bhn and the input projection are Hp floats per gate (padding stays 0).
#define SEQ_UB(G) ((VL / (G)) * 8)
#define SEQ_MAX_V 8

EXPORT_INT(seq_unit_block)(int G) { return SEQ_UB(G); }

/** Panels of seq_forward's packed W_hh^T per step: what two threads can split (fewer than 2: one thread). */
EXPORT_INT(seq_panels)(int module, int H) {
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, UB = SEQ_UB(G), Hp = (H + 7) & ~7;
  return (Hp + UB - 1) / UB;
}

static inline __attribute__((always_inline)) void seq_gemv(const int NV, int H, const float *w, const float *h, float *out) {
  vf acc[SEQ_MAX_V];
  for (int v = 0; v < NV; v++) acc[v] = SPLAT(0.f);
  for (int k = 0; k < H; k++) {
    const vf x = SPLAT(h[k]);
    const float *r = w + (long)k * NV * VL;
    for (int v = 0; v < NV; v++) acc[v] = MADD(x, LOAD(r + v * VL), acc[v]);
  }
  for (int v = 0; v < NV; v++) STORE(out + v * VL, acc[v]);
}

/** out[G*w] = h[0..H) · panel (NV = G*w / VL vectors, at most 8). */
static void seq_panel_gemv(int NV, int H, const float *w, const float *h, float *out) {
  switch (NV) {
    case 1: seq_gemv(1, H, w, h, out); break;
    case 2: seq_gemv(2, H, w, h, out); break;
    case 3: seq_gemv(3, H, w, h, out); break;
    case 4: seq_gemv(4, H, w, h, out); break;
    case 5: seq_gemv(5, H, w, h, out); break;
    case 6: seq_gemv(6, H, w, h, out); break;
    case 7: seq_gemv(7, H, w, h, out); break;
    default: seq_gemv(8, H, w, h, out); break;
  }
}

/**
 * One step of panels [p0, p1): gates = x (+ biases, in the projection) + h_{t-1} W_hh^T, then the cell.
 * module 0 LSTM (c in place), 1 GRU (reset after: bhn added to the hidden n part), 2 RNN (flag: relu).
 */
static void seq_step(int module, int H, int Hp, int p0, int p1, const float *wp, const float *x, const float *bhn,
                     const float *hPrev, float *hNext, float *c, int flag) {
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, UB = SEQ_UB(G);
  float buf[SEQ_MAX_V * VL] __attribute__((aligned(32)));
  for (int p = p0; p < p1; p++) {
    const int u0 = p * UB, w = Hp - u0 < UB ? Hp - u0 : UB;
    seq_panel_gemv(G * w / VL, H, wp + (long)u0 * G * H, hPrev, buf);
    for (int u = 0; u < w; u += VL) {
      const int j = u0 + u;
      if (module == 0) {
        const vf i = vgate(ADD(LOAD(buf + u), LOAD(x + j)), flag);
        const vf f = vgate(ADD(LOAD(buf + w + u), LOAD(x + Hp + j)), flag);
        const vf g = vtanh(ADD(LOAD(buf + 2 * w + u), LOAD(x + 2 * Hp + j)));
        const vf o = vgate(ADD(LOAD(buf + 3 * w + u), LOAD(x + 3 * Hp + j)), flag);
        const vf cv = ADD(MUL(f, LOAD(c + j)), MUL(i, g));
        STORE(c + j, cv);
        STORE(hNext + j, MUL(o, vtanh(cv)));
      } else if (module == 1) {
        const vf r = vgate(ADD(LOAD(x + j), LOAD(buf + u)), flag);
        const vf z = vgate(ADD(LOAD(x + Hp + j), LOAD(buf + w + u)), flag);
        const vf hv = ADD(LOAD(buf + 2 * w + u), LOAD(bhn + j));
        const vf n = vtanh(ADD(LOAD(x + 2 * Hp + j), MUL(r, hv)));
        STORE(hNext + j, ADD(n, MUL(z, SUB(LOAD(hPrev + j), n))));
      } else {
        const vf pre = ADD(LOAD(x + j), LOAD(buf + u));
        STORE(hNext + j, flag ? VMAX(pre, SPLAT(0.f)) : vtanh(pre));
      }
    }
  }
}

/** Every `every` steps (after step t): the state of panels [p0, p1)'s units to row (t + 1) / every - 1 of ckh / ckc. */
static inline void seq_keep(int module, int H, int p0, int p1, int t, int every, const float *h, const float *c, float *ckh, float *ckc) {
  if (every <= 0 || (t + 1) % every != 0) return;
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, UB = SEQ_UB(G);
  const int a = p0 * UB, b = p1 * UB < H ? p1 * UB : H;
  const long row = (long)((t + 1) / every - 1) * H;
  for (int j = a; j < b; j++) ckh[row + j] = h[j];
  if (module == 0) for (int j = a; j < b; j++) ckc[row + j] = c[j];
}

/** Row t's input projection: row tokens[t] of a table, or row t. */
static inline const float *seq_x(const float *xp, const int *tokens, int t, int G, int Hp) {
  return xp + (long)(tokens ? tokens[t] : t) * G * Hp;
}

/**
 * T steps of one layer on one thread. x: the input projection, rows of G*Hp (row tokens[t] of a table when
 * tokens is set, else row t). hs: R rows of Hp, h_{t-1} in row t % R and h_t written to row (t + 1) % R (R = T + 1
 * keeps every step, for the next layer; 2 is a ring). Every `every` steps the state is copied to ckh / ckc (rows
 * of H, the (t + 1) / every - 1'th).
 */
EXPORT(seq_forward)(int module, int T, int H, const float *wp, const float *xp, const int *tokens, const float *bhn,
                    float *hs, int R, float *c, int every, float *ckh, float *ckc, int flag) {
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, UB = SEQ_UB(G), Hp = (H + 7) & ~7;
  const int P = (Hp + UB - 1) / UB;
  for (int t = 0; t < T; t++) {
    float *hNext = hs + (long)((t + 1) % R) * Hp;
    seq_step(module, H, Hp, 0, P, wp, seq_x(xp, tokens, t, G, Hp), bhn, hs + (long)(t % R) * Hp, hNext, c, flag);
    seq_keep(module, H, 0, P, t, every, hNext, c, ckh, ckc);
  }
}

// ---- the document sweep on two threads: the same protocol natively (pthreads) and in wasm (a worker) ---
// Built where a second thread exists: the native addon (AVX2) and the shared-memory wasm variants.
#if defined(__AVX2__) || defined(__wasm_atomics__)
#include <stdatomic.h>
#include <stdint.h>
#if defined(__wasm_atomics__)
/** Monotonic nanoseconds from the host (wasm has no clock of its own). */
__attribute__((import_module("env"), import_name("now_ns"))) double seq_host_now_ns(void);
static inline long long seq_now_ns(void) { return (long long)seq_host_now_ns(); }
/** A waiting thread's pause: wasm has none, a relaxed re-read is all there is. */
static inline void seq_relax(long spins) { (void)spins; }
#else
#include <immintrin.h>
#include <sched.h>
#include <time.h>
static inline long long seq_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static inline void seq_relax(long spins) {
  if (spins < 4000) _mm_pause();
  else sched_yield();
}
#endif

// Each step's P panels are claimed one by one, the caller's from the first up, the helper's from the last
// down (so the two claimed ranges always meet somewhere: each panel is run once). Each thread first claims
// its own half (the same every step, so its half of W_hh^T stays in its core's cache), and a step is complete
// once all P panels are done. A thread whose partner is late (asleep, not scheduled, or slower) takes the
// partner's unclaimed panels after waiting as long as its own half took (at most SEQ_STEAL_NS); only a panel
// claimed and not finished is waited for. When the caller had to take some of the helper's panels in
// SEQ_AWAY_STEPS steps in a row, or waited SEQ_AWAY_NS for one of them, the helper is away (its core lent to
// other work): it then sits out, and the caller runs whole steps without waiting, until the helper says it is
// back (the step after it runs again), so a helper descheduled for a while costs one wait, not one per step.

#define SEQ_LINE 16 // ints per claim slot: one cache line each
#define SEQ_STEAL_NS 30000LL
#define SEQ_AWAY_NS 500000LL
#define SEQ_AWAY_STEPS 8

typedef struct {
  int module, T, H, Hp, G, P, R, every, flag;
  const float *wp, *xp, *bhn;
  const int32_t *tokens;
  float *hs, *c, *ckh, *ckc;
  int stolen; // the caller's: steps in a row in which it took some of the helper's panels
  int epoch;  // the caller's: the last number it sent the helper away with
  atomic_int *claims; // [P * SEQ_LINE]: claims[p * SEQ_LINE] = steps for which panel p was claimed
  // Each written by both threads: a cache line of its own, away from the fields read for every panel.
  _Alignas(64) atomic_llong done; // panels finished, all steps together: step t is complete once done >= P * (t + 1)
  _Alignas(64) atomic_int away;  // set by the caller (a new number each time): the helper claims nothing until it is 0
  _Alignas(64) atomic_int back;  // the helper's: the last `away` it saw (it runs again)
  _Alignas(64) atomic_int finished;
} SeqTeam;

/** Claims panel p for step t (it was claimed for every step before); false when the other thread has it. */
static inline int seq_claim(SeqTeam *m, int p, int t) {
  int expected = t;
  return atomic_compare_exchange_strong(&m->claims[p * SEQ_LINE], &expected, t + 1);
}

static inline void seq_panel(SeqTeam *m, int p, int t) {
  const float *x = seq_x(m->xp, m->tokens, t, m->G, m->Hp);
  float *hNext = m->hs + (long)((t + 1) % m->R) * m->Hp;
  seq_step(m->module, m->H, m->Hp, p, p + 1, m->wp, x, m->bhn, m->hs + (long)(t % m->R) * m->Hp, hNext, m->c, m->flag);
  seq_keep(m->module, m->H, p, p + 1, t, m->every, hNext, m->c, m->ckh, m->ckc);
}

/**
 * Claims and runs panels of step t from *next on (dir +1: up to `limit` exclusive; -1: down to `limit`
 * inclusive) until one is the other thread's; *next then points past the end (no more to claim). Returns how
 * many it ran.
 */
static int seq_claim_run(SeqTeam *m, int t, int *next, int dir, int limit, int helper) {
  int mine = 0;
  int p = *next;
  for (; dir > 0 ? p < limit : p >= limit; p += dir) {
    if (helper && atomic_load_explicit(&m->away, memory_order_relaxed)) { p = -1; break; }
    if (!seq_claim(m, p, t)) { p = dir > 0 ? m->P : -1; break; }
    seq_panel(m, p, t);
    mine++;
  }
  *next = p;
  if (mine) atomic_fetch_add(&m->done, mine);
  return mine;
}

/**
 * Asks for all of h_{t-1} at once: half of it was just written by the other core, and the panels read it in
 * order, so its lines would otherwise arrive one miss after another.
 */
static inline void seq_fetch_h(const SeqTeam *m, int t) {
  const char *h = (const char *)(m->hs + (long)(t % m->R) * m->Hp);
  for (long b = 0; b < (long)m->H * 4; b += 64) __builtin_prefetch(h + b);
}

/** The helper's part of step t: its half, then (when the caller is late) the rest it can claim. */
static void seq_helper_step(SeqTeam *m, int t) {
  const int P = m->P;
  int next = P - 1;
  seq_fetch_h(m, t);
  const long long start = seq_now_ns();
  seq_claim_run(m, t, &next, -1, P / 2, 1);
  const long long complete = (long long)P * (t + 1), mark = seq_now_ns();
  const long long steal = mark - start < SEQ_STEAL_NS ? mark - start : SEQ_STEAL_NS;
  for (long spins = 0; atomic_load(&m->done) < complete; spins++) {
    if (atomic_load_explicit(&m->away, memory_order_relaxed)) return;
    if (spins < 16) { seq_relax(0); continue; }
    if (next >= 0 && seq_now_ns() - mark > steal) seq_claim_run(m, t, &next, -1, 0, 1);
    seq_relax(spins);
  }
}

/** Tells the helper to sit out (a number it has not seen: it says it is back by giving it back). */
static void seq_send_away(SeqTeam *m) {
  if (atomic_load_explicit(&m->away, memory_order_relaxed)) return;
  m->epoch = m->epoch % 1000000 + 1;
  atomic_store(&m->away, m->epoch);
}

/** The caller's part of step t: as the helper's, and all of it while the helper is away. */
static void seq_caller_step(SeqTeam *m, int t) {
  const int P = m->P;
  int next = 0;
  const int away = atomic_load_explicit(&m->away, memory_order_relaxed);
  if (away && atomic_load(&m->back) == away) {
    atomic_store(&m->away, 0);
    m->stolen = 0;
  }
  const int alone = atomic_load_explicit(&m->away, memory_order_relaxed);
  if (!alone) seq_fetch_h(m, t);
  const long long start = seq_now_ns();
  seq_claim_run(m, t, &next, 1, alone ? P : P / 2, 0);
  const long long complete = (long long)P * (t + 1), mark = seq_now_ns();
  const long long steal = mark - start < SEQ_STEAL_NS ? mark - start : SEQ_STEAL_NS;
  int stole = 0;
  for (long spins = 0; atomic_load(&m->done) < complete; spins++) {
    if (spins < 16) { seq_relax(0); continue; }
    const long long waited = seq_now_ns() - mark;
    if (next < P && waited > steal && seq_claim_run(m, t, &next, 1, P, 0) > 0) stole = 1;
    if (waited > SEQ_AWAY_NS) seq_send_away(m);
    seq_relax(spins);
  }
  m->stolen = stole ? m->stolen + 1 : 0;
  if (m->stolen >= SEQ_AWAY_STEPS) seq_send_away(m);
}

static void seq_caller(SeqTeam *m) {
  for (int t = 0; t < m->T; t++) seq_caller_step(m, t);
}

static void seq_helper(SeqTeam *m) {
  while (!atomic_load(&m->finished)) {
    const int away = atomic_load(&m->away);
    if (away) {
      atomic_store(&m->back, away);
      for (int spins = 0; atomic_load(&m->away) == away && !atomic_load(&m->finished); spins++) {
        seq_relax(spins);
      }
      continue;
    }
    const int t = (int)(atomic_load(&m->done) / m->P); // the step in progress
    if (t >= m->T) return;
    seq_helper_step(m, t);
  }
}

/** Bytes a team of P panels takes: the struct, then its claims (one cache line per panel). */
#define SEQ_TEAM_BYTES(P) (sizeof(SeqTeam) + (unsigned long)(P) * SEQ_LINE * sizeof(atomic_int))

/** Fills a team for one sweep call, its claims right after the struct; returns P, the panels per step. */
static int seq_team_setup(SeqTeam *m, int module, int T, int H, const float *wp, const float *xp, const int32_t *tokens,
                          const float *bhn, float *hs, int R, float *c, int every, float *ckh, float *ckc, int flag) {
  const int G = module == 0 ? 4 : module == 1 ? 3 : 1, UB = SEQ_UB(G), Hp = (H + 7) & ~7, P = (Hp + UB - 1) / UB;
  m->module = module; m->T = T; m->H = H; m->Hp = Hp; m->G = G; m->P = P; m->R = R; m->every = every; m->flag = flag;
  m->wp = wp; m->xp = xp; m->bhn = bhn; m->tokens = tokens; m->hs = hs; m->c = c; m->ckh = ckh; m->ckc = ckc;
  m->stolen = 0;
  m->epoch = 0;
  m->claims = (atomic_int *)(m + 1);
  for (int p = 0; p < P; p++) atomic_init(&m->claims[p * SEQ_LINE], 0);
  atomic_init(&m->done, 0);
  atomic_init(&m->away, 0);
  atomic_init(&m->back, 0);
  atomic_init(&m->finished, 0);
  return P;
}

/** One side of a set-up team: role 0 the caller (every step, then it ends the team), 1 the helper. */
static void seq_team_run_role(SeqTeam *m, int role) {
  if (role == 0) {
    seq_caller(m);
    atomic_store(&m->finished, 1); // a helper that starts only now has nothing to do
  } else {
    seq_helper(m);
  }
}

#if defined(__wasm_atomics__)
/** The bytes of a team for a layer of H units (the caller reserves them, 64-byte aligned). */
EXPORT_INT(seq_team_bytes)(int module, int H) { return (int)SEQ_TEAM_BYTES(seq_panels(module, H)); }
EXPORT(seq_team_init)(SeqTeam *m, int module, int T, int H, const float *wp, const float *xp, const int *tokens, const float *bhn,
                      float *hs, int R, float *c, int every, float *ckh, float *ckc, int flag) {
  seq_team_setup(m, module, T, H, wp, xp, tokens, bhn, hs, R, c, every, ckh, ckc, flag);
}
EXPORT(seq_team_run)(SeqTeam *m, int role) { seq_team_run_role(m, role); }
#endif

// ---- a big product on two threads, block by block ---------------------------------------------------
// A fixed half each waits for the slower thread, and on a machine whose cores are preempted now and then
// that is often: here both threads take row (or column) blocks from one counter until none are left.
typedef struct {
  int M, N, K, ars, acs, ldc, acc, byRows, step, blocks;
  const float *a, *packed; // B [K, N] packed by pack_b_full
  float *c;
  _Alignas(64) atomic_int next;
} GemmBlocks;

/** Products below this many multiply-adds keep the fixed split (the blocks' set-up costs a few µs). */
#define GEMM_BLOCKS_MIN_FMAS (1L << 24)

/** Fills g for C[M, N] (+)= A·B by row blocks (byRows) or column blocks; returns the number of blocks. */
static int gemm_blocks_setup(GemmBlocks *g, int M, int N, int K, const float *a, int ars, int acs, const float *packed, float *c,
                             int ldc, int acc, int byRows) {
  g->M = M; g->N = N; g->K = K; g->a = a; g->ars = ars; g->acs = acs; g->packed = packed; g->c = c; g->ldc = ldc; g->acc = acc;
  g->byRows = byRows;
  // Rows: one MC block each (A is packed an MC block at a time anyway, and small blocks leave the threads
  // little to wait for at the end). Columns: every column block packs all of A again, so they stay wide:
  // NC, or an eighth of N in whole panels, at least 256.
  int step = MC;
  if (!byRows) {
    step = N >= 4 * NC ? NC : (N / 8 + NR - 1) / NR * NR;
    if (step < 256) step = 256;
  }
  g->step = step;
  g->blocks = ((byRows ? M : N) + step - 1) / step;
  atomic_init(&g->next, 0);
  return g->blocks;
}

/** One thread's share of a set-up product: blocks until none are left (scratch private to the thread). */
static void gemm_blocks_run_thread(GemmBlocks *g, float *scratch) {
  for (int i; (i = atomic_fetch_add_explicit(&g->next, 1, memory_order_relaxed)) < g->blocks;) {
    const int lo = i * g->step, extent = g->byRows ? g->M : g->N, n = extent - lo < g->step ? extent - lo : g->step;
    if (g->byRows)
      gemm_prepacked(n, g->N, g->K, g->a + (long)lo * g->ars, g->ars, g->acs, g->packed, g->N, 0, g->c + (long)lo * g->ldc, g->ldc,
                     g->acc, scratch);
    else
      gemm_prepacked(g->M, n, g->K, g->a, g->ars, g->acs, g->packed, g->N, lo, g->c + lo, g->ldc, g->acc, scratch);
  }
}

#if defined(__wasm_atomics__)
EXPORT_INT(gemm_blocks_bytes)(void) { return (int)sizeof(GemmBlocks); }
EXPORT_INT(gemm_blocks_init)(GemmBlocks *g, int M, int N, int K, const float *a, int ars, int acs, const float *packed, float *c,
                             int ldc, int acc, int byRows) {
  return gemm_blocks_setup(g, M, N, K, a, ars, acs, packed, c, ldc, acc, byRows);
}
EXPORT(gemm_blocks_run)(GemmBlocks *g, float *scratch) { gemm_blocks_run_thread(g, scratch); }
#endif
#endif
