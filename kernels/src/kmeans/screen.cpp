// bf16 screening for exact Lloyd: the per-fit and per-pass data, and the kernel choice.
// The bound derivation is in screen.hpp and docs/accelerated.md ("Screened Lloyd").
#include "kmeans/screen.hpp"

#include <cfloat>
#include <algorithm>
#include <cmath>

#include "personakit/isa.hpp"

namespace personakit::detail {
namespace {

constexpr double kU = 0x1.0p-24;           // fp32 unit roundoff
constexpr double kLimit = 0x1.0p40;        // screening only below this magnitude
// Rounds v (>= 0) to a float that is >= v.
inline float up(double v) { return static_cast<float>(v * (1 + 0x1.0p-20)); }

}  // namespace

const ScreenKernels* screen_kernels(Isa isa) {
  switch (isa) {
    case Isa::scalar: return &scalar::kScreenKernels;
#ifdef PERSONAKIT_HAVE_AVX512
    case Isa::avx512: {
      static const bool bf16 = __builtin_cpu_supports("avx512bf16");
      return bf16 ? &avx512::kScreenKernels : nullptr;
    }
#endif
    default: return nullptr;
  }
}

void ScreenRows::prepare(const float* x, std::size_t n_, std::size_t d_) {
  n = n_;
  d = d_;
  dp = (d + 1) / 2 * 2;
  dq = dp + 2;
  // Column means (fp64, row order per column: deterministic), and the magnitude check.
  std::vector<double> s(d, 0.0);
  bool fine = true;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      const float v = x[i * d + j];
      fine = fine && std::fabs(v) < kLimit;  // false for NaN and inf too
      s[j] += v;
    }
  ok = fine && n > 0 && d <= kScreenMaxD;
  if (!ok) return;
  mu.resize(d);
  for (std::size_t j = 0; j < d; ++j) mu[j] = static_cast<float>(s[j] / static_cast<double>(n));
  // g: the fp32 accumulation of dp products, the start value and the bound pair
  // (dp + 2 roundings); beta: the canonical arithmetic's error coefficient.
  const double q = static_cast<double>(dp + 2) * kU;
  coef_g = q / (1 - q);
  coef_b = (static_cast<double>(d) + 3) * kU * 1.01;
  const double tiny = static_cast<double>(d) * 0x1.0p-122;
  ab.resize(n);
  bx.resize(n);
  xc2.resize(n);
  const auto nn = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static)
  for (std::ptrdiff_t ii = 0; ii < nn; ++ii) {
    const auto i = static_cast<std::size_t>(ii);
    const float* xr = x + i * d;
    double sv = 0, sx = 0, sr = 0, sb = 0;
    for (std::size_t j = 0; j < d; ++j) {
      const float v = xr[j] - mu[j];
      const double vb = from_bf16(to_bf16(v));
      sv += static_cast<double>(v) * v;
      sx += static_cast<double>(xr[j]) * xr[j];
      sr += (v - vb) * (v - vb);  // exact: v - vb is a float's residual
      sb += vb * vb;
    }
    // a >= |x' - x~| (bf16 residual plus fl(x - mu)'s own error), b >= |x~|.
    const double a = (std::sqrt(sr) + kU * 1.01 * std::sqrt(sv)) * (1 + 0x1.0p-18) * (1 + 0x1.0p-16);
    const double b = std::sqrt(sb) * (1 + 0x1.0p-18) * (1 + 0x1.0p-16);
    ab[i] = std::uint32_t{to_bf16_up(up(a))} | std::uint32_t{to_bf16_up(up(b))} << 16;
    xc2[i] = sv;
    bx[i] = up((2 * coef_b * sx + tiny * (1 + std::sqrt(sv))) * (1 + 0x1.0p-16));
  }
}

void ScreenCentroids::prepare(const float* c, std::size_t k_, const ScreenRows& rows) {
  k = k_;
  const std::size_t d = rows.d, dp = rows.dp, dq = rows.dq;
  nvec = (k + kScreenLanes - 1) / kScreenLanes;
  ok = rows.ok && nvec <= kScreenMaxVec;
  for (std::size_t t = 0; ok && t < k * d; ++t) ok = std::fabs(c[t]) < kLimit;
  if (!ok) return;
  const std::size_t kp = nvec * kScreenLanes;
  panels.assign(kp * dq, 0);
  init.assign(kp, -FLT_MAX);
  ge.assign(kp, 0.0f);
  gf.assign(kp, 0.0f);
  bc.assign(kp, 0.0f);
  const double tiny = static_cast<double>(d) * 0x1.0p-122;
  for (std::size_t t = 0; t < k; ++t) {
    const float* cr = c + t * d;
    std::uint16_t* pv = panels.data() + (t / kScreenLanes) * dq * kScreenLanes;
    const std::size_t l = t % kScreenLanes;
    double sv = 0, sx = 0, sr = 0, sb = 0;
    for (std::size_t j = 0; j < d; ++j) {
      const float v = cr[j] - rows.mu[j];
      const std::uint16_t h = to_bf16(v);
      pv[(j / 2) * 2 * kScreenLanes + 2 * l + (j & 1)] = h;
      const double vb = from_bf16(h);
      sv += static_cast<double>(v) * v;
      sx += static_cast<double>(cr[j]) * cr[j];
      sr += (v - vb) * (v - vb);
      sb += vb * vb;
    }
    // e >= |c'| and |c~|; f >= |c' - c~| + g·|c~| (the accumulation's error on x~.c~,
    // which is at most g·|x~||c~|, rides on b >= |x~|).
    const double nv = std::sqrt(sv) * (1 + 0x1.0p-22), nb = std::sqrt(sb);
    const double e = std::max(nv, nb) * (1 + 0x1.0p-18) * (1 + 0x1.0p-16);
    const double f = (std::sqrt(sr) + kU * 1.01 * std::sqrt(sv) + rows.coef_g * 1.01 * nb) * (1 + 0x1.0p-18) *
                     (1 + 0x1.0p-16);
    const std::uint16_t he = to_bf16_up(up(e)), hf = to_bf16_up(up(f));
    pv[(dp / 2) * 2 * kScreenLanes + 2 * l] = he;
    pv[(dp / 2) * 2 * kScreenLanes + 2 * l + 1] = hf;
    ge[t] = from_bf16(he);
    gf[t] = from_bf16(hf);
    // bc >= the canonical arithmetic's error (centroid part), |c'|^2's rounding and the
    // accumulation's error on |init|, with slack; init >= (bc - |c'|^2) / 2.
    const double bcv = (8 * kU * sv + 2 * rows.coef_b * sx + 2 * rows.coef_g * sv + tiny * (1 + nv)) * (1 + 0x1.0p-16);
    bc[t] = up(bcv);
    const double h = (static_cast<double>(bc[t]) - sv) / 2;
    float fl = static_cast<float>(h);
    if (static_cast<double>(fl) < h) fl = std::nextafter(fl, INFINITY);
    init[t] = fl;
  }
}

}  // namespace personakit::detail
