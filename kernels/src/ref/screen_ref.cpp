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

// xr = bf16(fl(x - mu)) zero padded to dp, then the bound pair.
void convert(const float* x, std::size_t d, const float* mu, std::uint32_t ab, std::uint16_t* xr) {
  const std::size_t dp = (d + 1) / 2 * 2;
  for (std::size_t j = 0; j < d; ++j) xr[j] = detail::to_bf16(x[j] - mu[j]);
  for (std::size_t j = d; j < dp; ++j) xr[j] = 0;
  xr[dp] = static_cast<std::uint16_t>(ab & 0xFFFFu);
  xr[dp + 1] = static_cast<std::uint16_t>(ab >> 16);
}

std::size_t screen_s(const float* x, std::size_t d, const std::uint32_t* ri, std::size_t m, const float* mu,
                     const std::uint32_t* ab, const float* bx, const std::uint16_t* panels, const float* init,
                     const float* ge, const float* gf, const float* bc, std::size_t nvec, std::int32_t* lab, float* thr,
                     float* s12, const void* /*pf*/, std::size_t /*pf_bytes*/) {
  const std::size_t dq = (d + 1) / 2 * 2 + 2, nq = dq / 2, kp = nvec * kL;
  std::uint16_t xr[detail::kScreenMaxD + 2];
  std::size_t open = 0;
  for (std::size_t t = 0; t < m; ++t) {
    const std::size_t i = ri ? ri[t] : t;
    convert(x + i * d, d, mu, ab[i], xr);
    float smax = -INFINITY, s2 = -INFINITY;
    std::size_t j1 = 0;
    for (std::size_t c = 0; c < kp; ++c) {
      const float s = score(xr, nq, panels, init, c);
      if (s > smax) {
        s2 = smax;
        smax = s;
        j1 = c;
      } else if (s > s2) {
        s2 = s;
      }
    }
    const float th = detail::screen_threshold(
        smax, detail::from_bf16(xr[dq - 2]) * ge[j1] + detail::from_bf16(xr[dq - 1]) * gf[j1], bc[j1], bx[i]);
    std::size_t cnt = 0;
    for (std::size_t c = 0; c < kp; ++c) cnt += score(xr, nq, panels, init, c) >= th;
    thr[t] = th;
    s12[2 * t] = smax;
    s12[2 * t + 1] = s2;
    lab[t] = cnt == 1 ? static_cast<std::int32_t>(j1) : -1;
    open += cnt != 1;
  }
  return open;
}

std::size_t list_s(const float* xrow, std::size_t d, const float* mu, std::uint32_t ab, const std::uint16_t* panels,
                   const float* init, std::size_t /*nvec*/, std::size_t k, float thr, std::int32_t* idx) {
  const std::size_t dq = (d + 1) / 2 * 2 + 2;
  std::uint16_t xr[detail::kScreenMaxD + 2];
  convert(xrow, d, mu, ab, xr);
  std::size_t c = 0;
  for (std::size_t t = 0; t < k; ++t)
    if (score(xr, dq / 2, panels, init, t) >= thr) idx[c++] = static_cast<std::int32_t>(t);
  return c;
}

}  // namespace

const detail::ScreenKernels kScreenKernels = {&screen_s, &list_s};

}  // namespace personakit::scalar
