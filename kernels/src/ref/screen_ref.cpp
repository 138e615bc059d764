// Scalar reference of the bf16 screen (kmeans/screen.hpp): S_j starts at init_j and
// adds the products of bf16 values (exact in fp32) in pair order, one fp32 rounding
// each; then the threshold of the row and the count of centroids at or above it. No
// index code in the low bits here (the threshold's slack covers the SIMD paths' code).
#include <cmath>

#include "kmeans/screen.hpp"

namespace personakit::scalar {
namespace {

constexpr std::size_t kL = detail::kScreenLanes;

float score(const std::uint16_t* xr, std::size_t nq, const std::uint16_t* panels, const float* init, std::size_t t) {
  const std::uint16_t* pv = panels + (t / kL) * nq * 2 * kL + 2 * (t % kL);
  float acc = init[t];
  for (std::size_t p = 0; p < nq; ++p) {
    acc = acc + detail::from_bf16(xr[2 * p]) * detail::from_bf16(pv[p * 2 * kL]);
    acc = acc + detail::from_bf16(xr[2 * p + 1]) * detail::from_bf16(pv[p * 2 * kL + 1]);
  }
  return acc;
}

std::size_t screen_s(const std::uint16_t* xb, std::size_t m, std::size_t dq, const float* bx,
                     const std::uint16_t* panels, const float* init, const float* ge, const float* gf, const float* bc,
                     std::size_t nvec, std::int32_t* lab, float* thr) {
  const std::size_t nq = dq / 2, kp = nvec * kL;
  std::size_t open = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const std::uint16_t* xr = xb + i * dq;
    float smax = -INFINITY;
    std::size_t j1 = 0;
    for (std::size_t t = 0; t < kp; ++t) {
      const float s = score(xr, nq, panels, init, t);
      if (s > smax) {
        smax = s;
        j1 = t;
      }
    }
    const float th = detail::screen_threshold(
        smax, detail::from_bf16(xr[dq - 2]) * ge[j1] + detail::from_bf16(xr[dq - 1]) * gf[j1], bc[j1], bx[i]);
    std::size_t cnt = 0;
    for (std::size_t t = 0; t < kp; ++t) cnt += score(xr, nq, panels, init, t) >= th;
    thr[i] = th;
    lab[i] = cnt == 1 ? static_cast<std::int32_t>(j1) : -1;
    open += cnt != 1;
  }
  return open;
}

std::size_t list_s(const std::uint16_t* xrow, std::size_t dq, const std::uint16_t* panels, const float* init,
                   std::size_t /*nvec*/, std::size_t k, float thr, std::int32_t* idx) {
  std::size_t c = 0;
  for (std::size_t t = 0; t < k; ++t)
    if (score(xrow, dq / 2, panels, init, t) >= thr) idx[c++] = static_cast<std::int32_t>(t);
  return c;
}

}  // namespace

const detail::ScreenKernels kScreenKernels = {&screen_s, &list_s};

}  // namespace personakit::scalar
