// The float32 vector operations kernels.c is written in, for two instruction sets:
//   wasm32 + SIMD128 (4 lanes; relaxed-SIMD FMA with -DRELAXED): the committed .wasm kernels;
//   x86-64 AVX2 + FMA (8 lanes): the optional native addon (native.c).
// Every operation the kernels use is named here once, so the math reads the same for both.
#ifndef GATESCOPE_SIMD_H
#define GATESCOPE_SIMD_H

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#define VL 4
typedef v128_t vf;

#ifdef RELAXED
// clang 14 only knows the pre-standard `f32x4.fma`; build-kernels.sh rewrites it to the final
// `f32x4.relaxed_madd` (a*b + c), so the operands are written in that final order.
#define MADD(a, b, c) __builtin_wasm_fma_f32x4((a), (b), (c))
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#endif

#define SPLAT(x) wasm_f32x4_splat(x)
#define LOAD(p) wasm_v128_load(p)
#define STORE(p, v) wasm_v128_store((p), (v))
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul
#define DIV wasm_f32x4_div
// The pseudo-minimum and -maximum (b < a ? b : a): one x86 instruction each where wasm's IEEE min/max take a
// sequence of them. Like the AVX2 ones below, they keep a NaN in the first operand (the kernels pass the
// variable first).
#define VMIN(x, limit) wasm_f32x4_pmin((x), (limit))
#define VMAX(x, limit) wasm_f32x4_pmax((x), (limit))
#define NEG wasm_f32x4_neg
#define VABS wasm_f32x4_abs
#define ROUND_NEAREST wasm_f32x4_nearest
#define GT wasm_f32x4_gt
#define LT wasm_f32x4_lt
#define AND wasm_v128_and
#define OR wasm_v128_or
/** Lanes of `yes` where mask is set, else `no`. */
#define SELECT(yes, no, mask) wasm_v128_bitselect((yes), (no), (mask))
#define SIGN_BITS(x) wasm_v128_and((x), wasm_i32x4_splat((int)0x80000000))
#define LANE0(v) wasm_f32x4_extract_lane((v), 0)

/**
 * 2^n for whole-number lanes n (|n| < 127), built in the exponent field. n + 1.5 * 2^23 holds n in its low
 * mantissa bits: two integer operations instead of i32x4.trunc_sat_f32x4, which x86 runtimes emulate.
 */
static inline vf pow2_whole(vf n) {
  const v128_t magic = wasm_f32x4_splat(12582912.f);
  const v128_t i = wasm_i32x4_sub(wasm_f32x4_add(n, magic), magic);
  return wasm_i32x4_shl(wasm_i32x4_add(i, wasm_i32x4_splat(127)), 23);
}

/** In place: lane j of r[i] becomes lane i of r[j] (a 4x4 transpose). */
static inline void transpose_lanes(vf *r) {
  const v128_t t0 = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7);
  const v128_t t2 = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
  r[0] = wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5);
  r[1] = wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7);
  r[2] = wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5);
  r[3] = wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7);
}

/** Sum and maximum of the lanes. */
static inline float hsum(vf v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}
static inline float hmax(vf v) {
  const vf m = wasm_f32x4_max(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2)), 0);
}

#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define VL 8
typedef __m256 vf;

#define MADD(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define SPLAT(x) _mm256_set1_ps(x)
#define LOAD(p) _mm256_loadu_ps(p)
#define STORE(p, v) _mm256_storeu_ps((p), (v))
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define DIV _mm256_div_ps
// x86 returns the second operand when either is NaN, so the variable goes second: VMIN(x, limit) keeps a
// NaN x, as the wasm pseudo-min/max do (the kernels always pass the variable first).
#define VMIN(x, limit) _mm256_min_ps((limit), (x))
#define VMAX(x, limit) _mm256_max_ps((limit), (x))
#define NEG(x) _mm256_xor_ps((x), _mm256_set1_ps(-0.0f))
#define VABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), (x))
#define ROUND_NEAREST(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define GT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define LT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define AND _mm256_and_ps
#define OR _mm256_or_ps
#define SELECT(yes, no, mask) _mm256_blendv_ps((no), (yes), (mask))
#define SIGN_BITS(x) _mm256_and_ps((x), _mm256_set1_ps(-0.0f))
#define LANE0(v) _mm256_cvtss_f32(v)

static inline vf pow2_whole(vf n) {
  const __m256i i = _mm256_cvttps_epi32(n);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23));
}

/** In place: lane j of r[i] becomes lane i of r[j] (an 8x8 transpose). */
static inline void transpose_lanes(vf *r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; i++) {
    u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

/** Sum and maximum of the lanes. */
static inline float hsum(vf v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}
static inline float hmax(vf v) {
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  return _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
}

#else
#error "kernels.c needs wasm32 SIMD128 or x86-64 AVX2 + FMA"
#endif

#endif
