// bf16 screening for exact Lloyd (Algorithm::screened, docs/accelerated.md, "Screened
// Lloyd"). Internal; not installed.
//
// One assignment pass of screened Lloyd gives exactly Lloyd's labels and distances.
// For a row x and centroid c_j, with x' = x - mu, c'_j = c_j - mu (mu: the data's column
// means) and D_j the canonical squared distance (assign.hpp), Lloyd's label is the argmin
// of Z_j = D_j - |x'|^2 = |c'_j|^2 - 2 x'.c'_j (+ the canonical arithmetic's error). With
// x~, c~ the bf16 roundings of fl(x - mu), fl(c - mu) and dx = x' - x~, dc = c' - c~,
//     |x'.c' - x~.c~| = |dx.c' + x~.dc| <= |dx| |c'| + |x~| |dc|        (Cauchy-Schwarz)
// with the residual norms computed once (rows) or per pass (centroids). The screen
// computes, at the VDPBF16PS rate (twice the fp32 FMA rate),
//     S_j = init_j + x~.c~_j + (a·e_j + b·f_j)
// where the last pair (a, b)·(e_j, f_j) is one more bf16 feature pair, rounded up:
// a >= |dx|, b >= |x~|, e_j >= |c'_j|, f_j >= |dc_j| + (fp32 accumulation term), and
// init_j >= (bc_j - |c'_j|^2)/2. Then, with P_j = a·e_j + b·f_j,
//     -2 S_j - bx  <=  Z_j  <=  -2 S_j + 4 P_j + 2 bc_j + bx,
// bc_j and bx (per centroid, per row) covering the fp32 accumulation (any order, up to
// dp + 2 roundings), fp32 rounding of x - mu and c - mu, bf16/fp32 denormals flushed to
// zero, the stored terms' rounding, and the canonical fp32 arithmetic's own error
// against the exact distance. So for any j1 (the screen takes argmax S), every j with
// Z_j <= Z_j1 (Lloyd's label and any tie with it) has S_j >= thr = S_j1 - (2 P_j1 +
// bc_j1 + bx) (less fp32 slack). A row where only j1 passes is decided: j1 is Lloyd's
// label. The others ("open") get the canonical distances of their candidates (the j
// with S_j >= thr), the smallest one (lowest index on ties) being Lloyd's label; the
// decided rows' distances, when asked for, come from own_sqdist.
// Screening is skipped (exact pass) when any |value| of the data or the centroids
// reaches 2^40 (products could overflow) or is not finite, or when k > 4096.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "personakit/isa.hpp"

namespace personakit::detail {

// Lanes per screen panel: 16 centroids, one fp32 accumulator vector.
inline constexpr std::size_t kScreenLanes = 16;

// The screen kernels (per ISA; absent where the ISA has no bf16 dot product).
//   x: rows × d fp32 (row stride d), converted on the fly to bf16(fl(x - mu)) (zero
//   padded to dp = d rounded up to even) followed by the row's bound pair ab (a in the
//   low 16 bits, b in the high); bx: the rows' bound terms; panels: nvec panels, panel
//   v = dq/2 pairs × 16 lanes × 2 bf16 (dq = dp + 2; lane l holds centroid 16v + l's
//   pair p at p·32 + 2l; the last pair is (e, f)); init, ge, gf, bc: 16·nvec floats (pad
//   lanes: init = -FLT_MAX, the others 0). nvec <= kScreenMaxVec, d <= kScreenMaxD.
// screen: for the rows t < m of a list (row t = rows[t], or t when rows is nullptr: x +
//   row·d, ab[row], bx[row]), lab[t] = j1 when it is the only centroid with S_j >= thr[t],
//   else -1; thr[t], s12[2t] = S_j1 (the largest S) and s12[2t+1] = the largest S over
//   j != j1 are written for every row. Returns the number of rows left at -1.
//   The SIMD epilogue keeps, per lane, the two largest S with their low kScreenCodeBits
//   mantissa bits replaced by the panel index (so the largest's index comes with it):
//   those values (and so s12) are within 2^(kScreenCodeBits-23)·|S| of S, and thr
//   carries slack for that (screen_threshold), so the kept set still holds every
//   centroid that can be the row's nearest.
//   pf, pf_bytes: a region the SIMD path prefetches into L2 progressively while it
//   screens (the caller's next reads; the reference ignores it).
// list: the centroids j < k of ONE row with S_j >= thr (S recomputed unmodified, the
//   same bits as in screen), ascending, into idx; returns how many.
// Reading the fp32 rows (not a stored bf16 copy) keeps each chunk in cache for the
// centroid update that follows, as in Lloyd's pass. Single-threaded; allocate nothing.
struct ScreenKernels {
  std::size_t (*screen)(const float* x, std::size_t d, const std::uint32_t* rows, std::size_t m, const float* mu,
                        const std::uint32_t* ab, const float* bx, const std::uint16_t* panels, const float* init,
                        const float* ge, const float* gf, const float* bc, std::size_t nvec, std::int32_t* lab,
                        float* thr, float* s12, const void* pf, std::size_t pf_bytes);
  std::size_t (*list)(const float* xrow, std::size_t d, const float* mu, std::uint32_t ab, const std::uint16_t* panels,
                      const float* init, std::size_t nvec, std::size_t k, float thr, std::int32_t* idx);
};
inline constexpr std::size_t kScreenMaxD = 2048;
inline constexpr unsigned kScreenCodeBits = 8;
inline constexpr std::size_t kScreenMaxVec = std::size_t{1} << kScreenCodeBits;  // k <= 4096

// The threshold of a row (shared by every ISA): S_j >= thr keeps j. The slack covers
// the fp32 rounding here and the SIMD epilogue's index code in the low mantissa bits.
//   p1 = the bound pair's product for j1: a·e_j1 + b·f_j1.
inline float screen_threshold(float smax, float p1, float bc1, float bx) {
  const float w = ((2.0f * p1 + bc1) * (1 + 0x1.0p-16f)) + bx;
  return (smax - w) - ((smax < 0 ? -smax : smax) + w) * 0x1.0p-13f - 0x1.0p-126f;
}

// The screen kernels of an ISA: scalar (the reference), avx512 when the CPU has
// AVX512_BF16; nullptr otherwise (avx2: no bf16 dot product, screened Lloyd then runs
// exact passes).
const ScreenKernels* screen_kernels(Isa isa);

// bf16 of an fp32 value, round to nearest even (finite inputs below 2^40 in magnitude).
inline std::uint16_t to_bf16(float v) {
  std::uint32_t u;
  __builtin_memcpy(&u, &v, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
// The smallest bf16 >= v (v >= 0 finite; at least 2^-100, never a denormal).
inline std::uint16_t to_bf16_up(float v) {
  if (!(v >= 0x1.0p-100f)) v = 0x1.0p-100f;
  std::uint32_t u;
  __builtin_memcpy(&u, &v, 4);
  return static_cast<std::uint16_t>((u >> 16) + ((u & 0xFFFFu) != 0));
}
inline float from_bf16(std::uint16_t b) {
  const std::uint32_t u = std::uint32_t{b} << 16;
  float v;
  __builtin_memcpy(&v, &u, 4);
  return v;
}

// Per-fit screening data of the rows (once per fit: 16n bytes).
struct ScreenRows {
  std::size_t n = 0, d = 0, dp = 0, dq = 0;
  bool ok = false;               // false: some |x| >= 2^40, or d > kScreenMaxD (never screened)
  std::vector<float> mu;         // d: the centre (column means, fp32)
  std::vector<std::uint32_t> ab; // n bound pairs (a, b) as bf16: a | b << 16
  std::vector<float> bx;         // n
  std::vector<double> xc2;       // n: sum of fl(x - mu)^2 in fp64 (|x'|^2 within 2^-21)
  double coef_b = 0, coef_g = 0; // beta, the accumulation's gamma (screen.cpp)
  // Bytes kept per fit: these (16n) and screened Lloyd's Hamerly bounds (16n).
  static std::size_t bytes(std::size_t n, std::size_t /*d*/) { return 32 * n; }
  void prepare(const float* x, std::size_t n, std::size_t d);  // OpenMP over rows
};

// Per-pass screening data of the centroids.
struct ScreenCentroids {
  std::size_t k = 0, nvec = 0;
  bool ok = false;               // false: some |c| >= 2^40 or not finite (exact pass)
  std::vector<std::uint16_t> panels;
  std::vector<float> init, ge, gf, bc;
  void prepare(const float* c, std::size_t k, const ScreenRows& rows);
};

}  // namespace personakit::detail

namespace personakit::scalar {
extern const detail::ScreenKernels kScreenKernels;
}
namespace personakit::avx512 {
extern const detail::ScreenKernels kScreenKernels;
}
