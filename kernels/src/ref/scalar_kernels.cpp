// Scalar kernel table (Isa::scalar): the canonical loops of assign_ref.cpp in the
// table's serial row-block form. Always built; the SIMD tables must match it bit for bit.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernel_table.hpp"

namespace personakit::scalar {
namespace {

constexpr std::size_t kP = PackedCentroids::kPanel;

void row_norms_s(const float* x, std::size_t n, std::size_t d, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = sqnorm_canonical(x + i * d, d);
}

// The packed centroids keep the original k×d rows (rows()) and the canonical norms.
void nearest_s(const float* x, std::size_t n, std::size_t d, const float* xnorm,
               const PackedCentroids& c, std::int32_t* labels, float* dist) {
  const std::size_t k = c.k();
  const float* cr = c.rows();
  const float* cn = c.norms();
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    const float xn = xnorm ? xnorm[i] : sqnorm_canonical(xi, d);
    float best = std::numeric_limits<float>::infinity();
    std::int32_t arg = 0;
    for (std::size_t j = 0; j < k; ++j) {
      const float v = sqdist_canonical(xi, xn, cr + j * d, cn[j], d);
      if (v < best) { best = v; arg = static_cast<std::int32_t>(j); }
    }
    labels[i] = arg;
    if (dist) dist[i] = best;
  }
}

void nearest2_s(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                const PackedCentroids& c, std::int32_t* labels, float* dist,
                std::int32_t* label2, float* dist2) {
  const std::size_t k = c.k();
  const float* cr = c.rows();
  const float* cn = c.norms();
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    const float xn = xnorm ? xnorm[i] : sqnorm_canonical(xi, d);
    float b1 = inf, b2 = inf;
    std::int32_t a1 = -1, a2 = -1;
    for (std::size_t j = 0; j < k; ++j) {
      const float v = sqdist_canonical(xi, xn, cr + j * d, cn[j], d);
      const auto jj = static_cast<std::int32_t>(j);
      if (v < b1) { b2 = b1; a2 = a1; b1 = v; a1 = jj; }
      else if (v < b2) { b2 = v; a2 = jj; }
    }
    labels[i] = a1 < 0 ? 0 : a1;
    if (dist) dist[i] = b1;
    label2[i] = a2;
    if (dist2) dist2[i] = b2;
  }
}

void sqdist_panels_s(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                     const PackedCentroids& c, std::size_t p0, std::size_t p1, float* out,
                     std::size_t ldo) {
  const std::size_t k = c.k();
  const std::size_t t0 = p0 * kP, t1 = (p1 * kP < k) ? p1 * kP : k;
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    const float xn = xnorm ? xnorm[i] : sqnorm_canonical(xi, d);
    for (std::size_t t = t0; t < t1; ++t)
      out[i * ldo + (t - t0)] = sqdist_canonical(xi, xn, c.rows() + t * d, c.norms()[t], d);
  }
}

void dot_panels_s(const float* x, std::size_t n, std::size_t d, const PackedCentroids& c,
                  std::size_t p0, std::size_t p1, float* out, std::size_t ldo) {
  const std::size_t k = c.k();
  const std::size_t t0 = p0 * kP, t1 = (p1 * kP < k) ? p1 * kP : k;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t t = t0; t < t1; ++t)
      out[i * ldo + (t - t0)] = dot_canonical(x + i * d, c.rows() + t * d, d);
}

void accumulate_s(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                  const float* weights, double* sums, double* counts) {
  for (std::size_t i = 0; i < n; ++i) {
    const double w = weights ? weights[i] : 1.0;
    const std::size_t l = static_cast<std::size_t>(labels[i]);
    double* s = sums + l * d;
    for (std::size_t j = 0; j < d; ++j) s[j] += w * double(x[i * d + j]);
    counts[l] += w;
  }
}

float fma_spin_s(std::uint64_t iters, double* flops) {
  float a[8];
  for (int t = 0; t < 8; ++t) a[t] = 1.0f + 1e-3f * float(t);
  for (std::uint64_t it = 0; it < iters; ++it)
    for (int t = 0; t < 8; ++t) a[t] = std::fma(a[t], 0.999999f, 1e-7f);
  *flops = double(iters) * 8 * 2.0;
  float s = 0;
  for (float v : a) s += v;
  return s;
}

float read_sum_s(const float* p, std::size_t n) {
  float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i + 8 <= n; i += 8)
    for (int t = 0; t < 8; ++t) a[t] += p[i + t];
  float s = 0;
  for (float v : a) s += v;
  return s;
}

}  // namespace

const detail::KernelTable kTable = {
    Isa::scalar,    &row_norms_s,   &nearest_s,  &nearest2_s, &sqdist_panels_s,
    &dot_panels_s,  &accumulate_s,  &fma_spin_s, &read_sum_s,
};

}  // namespace personakit::scalar
