// gatescope fast kernels: float32 GEMM and fused LSTM/GRU/RNN cell steps for wasm32 + SIMD128.
// Freestanding (no libc): built by scripts/build-kernels.sh. Pointers are byte addresses in the module's
// (imported) memory; the TypeScript side (src/engines/wasm) owns the heap layout.
// With -DRELAXED the multiply-adds use relaxed-SIMD FMA: clang 14 only knows the pre-standard
// `f32x4.fma` opcode, which the build script rewrites to the final `f32x4.relaxed_madd` (a*b + c), so the
// operands are written here in that final order.
#include <wasm_simd128.h>

typedef v128_t vf;
#define EXPORT(name) __attribute__((export_name(#name))) void name

#ifdef RELAXED
#define MADD(a, b, c) __builtin_wasm_fma_f32x4((a), (b), (c)) /* becomes relaxed_madd: a*b + c */
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#endif

#define SPLAT(x) wasm_f32x4_splat(x)
#define LOAD(p) wasm_v128_load(p)
#define STORE(p, v) wasm_v128_store((p), (v))
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul

// ---- GEMM: C[M,N] (+)= A[M,K] B[K,N], A[m,k] = a[m*ars + k*acs], B row-major ----------------------
// GotoBLAS-style: blocks of A and B are packed into contiguous MR-row / NR-column panels (so strided
// operands such as dG^T stream sequentially), then an MR x NR register tile runs over each pair of panels.

#define MR 4
#define NR 8
#define KC 256
#define MC 128
#define NC 512

// Per-thread scratch (no static buffers and no stack use, so threads can share one memory):
// packed A block, packed B block, one spill tile.
#define SCRATCH_FLOATS (MC * KC + KC * NC + MR * NR)

static void pack_a(float *dst, int mc, int kc, const float *a, int ars, int acs) {
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
        STORE(dst + 4, LOAD(src + 4));
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

/** One MR x NR tile over packed panels; rows/cols < MR/NR at the edges go through a scratch tile. */
static inline void micro(int kc, const float *ap, const float *bp, float *c, int ldc, int rows, int cols, int acc, float *t) {
  vf c00 = SPLAT(0.f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int k = 0; k < kc; k++) {
    const vf b0 = LOAD(bp), b1 = LOAD(bp + 4);
    vf x = SPLAT(ap[0]);
    c00 = MADD(x, b0, c00); c01 = MADD(x, b1, c01);
    x = SPLAT(ap[1]);
    c10 = MADD(x, b0, c10); c11 = MADD(x, b1, c11);
    x = SPLAT(ap[2]);
    c20 = MADD(x, b0, c20); c21 = MADD(x, b1, c21);
    x = SPLAT(ap[3]);
    c30 = MADD(x, b0, c30); c31 = MADD(x, b1, c31);
    ap += MR;
    bp += NR;
  }
  if (rows == MR && cols == NR) {
    if (acc) {
      c00 = ADD(c00, LOAD(c)); c01 = ADD(c01, LOAD(c + 4));
      c10 = ADD(c10, LOAD(c + ldc)); c11 = ADD(c11, LOAD(c + ldc + 4));
      c20 = ADD(c20, LOAD(c + 2 * ldc)); c21 = ADD(c21, LOAD(c + 2 * ldc + 4));
      c30 = ADD(c30, LOAD(c + 3 * ldc)); c31 = ADD(c31, LOAD(c + 3 * ldc + 4));
    }
    STORE(c, c00); STORE(c + 4, c01); STORE(c + ldc, c10); STORE(c + ldc + 4, c11);
    STORE(c + 2 * ldc, c20); STORE(c + 2 * ldc + 4, c21); STORE(c + 3 * ldc, c30); STORE(c + 3 * ldc + 4, c31);
    return;
  }
  STORE(t, c00); STORE(t + 4, c01); STORE(t + 8, c10); STORE(t + 12, c11);
  STORE(t + 16, c20); STORE(t + 20, c21); STORE(t + 24, c30); STORE(t + 28, c31);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++) c[r * ldc + j] = acc ? c[r * ldc + j] + t[r * NR + j] : t[r * NR + j];
}

__attribute__((export_name("gemm_scratch_floats"))) int gemm_scratch_floats(void) { return SCRATCH_FLOATS; }

static inline int round_nr(int n) { return (n + NR - 1) / NR * NR; }

/** Floats that B [K, N] takes packed for gemm_prepacked: every column block rounded up to whole panels. */
__attribute__((export_name("packed_b_floats"))) int packed_b_floats(int K, int N) {
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

/** prepacked: B as pack_b_full wrote it, or 0 to pack B blocks into scratch as they are needed. */
static void gemm_impl(int M, int N, int K, const float *a, int ars, int acs, const float *b, int ldb, float *c, int ldc,
                      int accumulate, float *scratch, const float *prepacked) {
  float *packA = scratch, *packB = scratch + MC * KC, *tile = packB + KC * NC;
  if (K == 0) {
    if (!accumulate) for (int m = 0; m < M; m++) for (int n = 0; n < N; n++) c[m * ldc + n] = 0.f;
    return;
  }
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = N - jc < NC ? N - jc : NC;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = K - pc < KC ? K - pc : KC;
      const int acc = accumulate || pc > 0;
      const float *bblock = packB;
      if (prepacked) {
        bblock = prepacked;
        prepacked += kc * round_nr(nc);
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
            micro(kc, packA + ir * kc, bp, c + (ic + ir) * ldc + jc + jr, ldc, rows, cols, acc, tile);
          }
        }
      }
    }
  }
}

/** `scratch`: SCRATCH_FLOATS floats, 16-byte aligned, private to the calling thread. */
EXPORT(gemm)(int M, int N, int K, const float *a, int ars, int acs, const float *b, int ldb, float *c, int ldc, int accumulate,
             float *scratch) {
  gemm_impl(M, N, K, a, ars, acs, b, ldb, c, ldc, accumulate, scratch, 0);
}

/** gemm with B [K, N] pre-packed by pack_b_full. */
EXPORT(gemm_prepacked)(int M, int N, int K, const float *a, int ars, int acs, const float *packed, float *c, int ldc,
                       int accumulate, float *scratch) {
  gemm_impl(M, N, K, a, ars, acs, 0, 0, c, ldc, accumulate, scratch, packed);
}

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
  for (; j + 4 <= width; j += 4) STORE(out + j, ADD(LOAD(x + j), LOAD(y + j)));
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
  x = wasm_f32x4_max(wasm_f32x4_min(x, SPLAT(88.0f)), SPLAT(-87.0f));
  const vf fx = wasm_f32x4_nearest(MUL(x, SPLAT(1.44269504088896341f)));
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
  const v128_t n = wasm_i32x4_trunc_sat_f32x4(fx);
  const v128_t pow2n = wasm_i32x4_shl(wasm_i32x4_add(n, wasm_i32x4_splat(127)), 23);
  return MUL(y, pow2n);
}

static inline vf vsigmoid(vf x) { return wasm_f32x4_div(SPLAT(1.f), ADD(SPLAT(1.f), vexp(wasm_f32x4_neg(x)))); }

static inline vf vhard_sigmoid(vf x) {
  return wasm_f32x4_min(SPLAT(1.f), wasm_f32x4_max(SPLAT(0.f), ADD(MUL(x, SPLAT(0.2f)), SPLAT(0.5f))));
}

static inline vf vgate(vf x, int hard) { return hard ? vhard_sigmoid(x) : vsigmoid(x); }

/** dy/dx through the output y. */
static inline vf vdgate(vf y, int hard) {
  if (!hard) return MUL(y, SUB(SPLAT(1.f), y));
  const v128_t inside = wasm_v128_and(wasm_f32x4_gt(y, SPLAT(0.f)), wasm_f32x4_lt(y, SPLAT(1.f)));
  return wasm_v128_and(inside, SPLAT(0.2f));
}

static inline vf vtanh(vf x) {
  const vf ax = wasm_f32x4_abs(x);
  // |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1) with the sign of x; below, an odd polynomial (no cancellation).
  const vf big = SUB(SPLAT(1.f), wasm_f32x4_div(SPLAT(2.f), ADD(vexp(ADD(ax, ax)), SPLAT(1.f))));
  const vf bigSigned = wasm_v128_or(big, wasm_v128_and(x, wasm_i32x4_splat((int)0x80000000)));
  const vf z = MUL(x, x);
  vf p = SPLAT(-5.70498872745e-3f);
  p = ADD(MUL(p, z), SPLAT(2.06390887954e-2f));
  p = ADD(MUL(p, z), SPLAT(-5.37397155531e-2f));
  p = ADD(MUL(p, z), SPLAT(1.33314422036e-1f));
  p = ADD(MUL(p, z), SPLAT(-3.33332819422e-1f));
  const vf small = ADD(MUL(MUL(p, z), x), x);
  return wasm_v128_bitselect(small, bigSigned, wasm_f32x4_lt(ax, SPLAT(0.625f)));
}

// Tails (H not a multiple of 4) run the same vector code on a padded copy of the lane.
#define LANE(v) wasm_f32x4_extract_lane((v), 0)

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
  const int H4 = H & ~3;
  for (int b = 0; b < B; b++) {
    float *g = gates + b * 4 * H;
    const float *cp = cPrev + b * H;
    float *cb = c + b * H, *tb = tc + b * H, *hb = h + b * H;
    for (int j = 0; j < H4; j += 4) lstm_fwd_vec(g, H, cp, cb, tb, hb, j, hard);
    for (int j = H4; j < H; j++) {
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
    for (; j + 4 <= H; j += 4) {
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
    for (; j + 4 <= H; j += 4) {
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
    for (; j + 4 <= H; j += 4) {
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
  for (; i + 4 <= n; i += 4) {
    const vf x = LOAD(pre + i);
    STORE(h + i, relu ? wasm_f32x4_max(x, SPLAT(0.f)) : vtanh(x));
  }
  for (; i < n; i++) h[i] = relu ? (pre[i] > 0.f ? pre[i] : 0.f) : LANE(vtanh(SPLAT(pre[i])));
}

EXPORT(rnn_backward)(int B, int H, const float *h, const float *dhIn, const float *dhRec, float *dG, int relu) {
  const int n = B * H;
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const vf y = LOAD(h + i), dh = ADD(LOAD(dhIn + i), LOAD(dhRec + i));
    const vf d = relu ? wasm_v128_and(wasm_f32x4_gt(y, SPLAT(0.f)), SPLAT(1.f)) : SUB(SPLAT(1.f), MUL(y, y));
    STORE(dG + i, MUL(dh, d));
  }
  for (; i < n; i++) {
    const float dh = dhIn[i] + dhRec[i];
    dG[i] = dh * (relu ? (h[i] > 0.f ? 1.f : 0.f) : 1.f - h[i] * h[i]);
  }
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
