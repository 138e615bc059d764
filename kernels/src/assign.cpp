// Dispatched entry points for the assignment kernels.
// PLACEHOLDER: scalar loops until the SIMD kernels land (issue 3).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "personakit/assign.hpp"
#include "personakit/error.hpp"

namespace personakit {

void PackedCentroids::pack(const float* c, std::size_t k, std::size_t d) {
  if (k == 0 || d == 0) throw Error("PackedCentroids: k and d must be at least 1");
  k_ = k; d_ = d;
  const std::size_t np = panels();
  data_.assign(np * d * kPanel + 16, 0.0f);
  const auto addr = reinterpret_cast<std::uintptr_t>(data_.data());
  pad_ = ((64 - addr % 64) % 64) / sizeof(float);
  float* base = data_.data() + pad_;
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t p = j / kPanel, q = j % kPanel;
    for (std::size_t f = 0; f < d; ++f) base[p * d * kPanel + f * kPanel + q] = c[j * d + f];
  }
  norms_.assign(np * kPanel, std::numeric_limits<float>::infinity());
  for (std::size_t j = 0; j < k; ++j) norms_[j] = sqnorm_canonical(c + j * d, d);
  rows_.assign(c, c + k * d);
}

void row_norms(const float* x, std::size_t n, std::size_t d, float* out) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) out[i] = sqnorm_canonical(x + i * d, d);
}

void assign_nearest(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                    const PackedCentroids& c, std::int32_t* labels, float* dist) {
  if (d != c.d()) throw Error("assign_nearest: data has d != centroids' d");
  const std::size_t k = c.k();
  const float* cr = c.rows();
  const float* cn = c.norms();
#pragma omp parallel for schedule(static)
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

void assign_nearest2(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                     const PackedCentroids& c, std::int32_t* labels, float* dist,
                     std::int32_t* label2, float* dist2) {
  if (d != c.d()) throw Error("assign_nearest2: data has d != centroids' d");
  const std::size_t k = c.k();
  const float* cr = c.rows();
  const float* cn = c.norms();
  const float inf = std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    const float xn = xnorm ? xnorm[i] : sqnorm_canonical(xi, d);
    float b1 = inf, b2 = inf;
    std::int32_t a1 = -1, a2 = -1;
    for (std::size_t j = 0; j < k; ++j) {
      const float v = sqdist_canonical(xi, xn, cr + j * d, cn[j], d);
      const auto jj = static_cast<std::int32_t>(j);
      if (a1 < 0 || v < b1) { b2 = b1; a2 = a1; b1 = v; a1 = jj; }
      else if (a2 < 0 || v < b2) { b2 = v; a2 = jj; }
    }
    labels[i] = a1; if (dist) dist[i] = b1;
    label2[i] = a2; if (dist2) dist2[i] = b2;
  }
}

void sqdist_rows(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                 const PackedCentroids& c, float* out, std::size_t ldo) {
  const std::size_t k = c.k();
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    const float xn = xnorm ? xnorm[i] : sqnorm_canonical(xi, d);
    for (std::size_t j = 0; j < k; ++j) out[i * ldo + j] = sqdist_canonical(xi, xn, c.rows() + j * d, c.norms()[j], d);
  }
}

}  // namespace personakit

namespace personakit {
void accumulate_sums(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                     const float* weights, double* sums, double* counts) {
  for (std::size_t i = 0; i < n; ++i) {
    const double w = weights ? weights[i] : 1.0;
    double* s = sums + static_cast<std::size_t>(labels[i]) * d;
    for (std::size_t j = 0; j < d; ++j) s[j] += w * x[i * d + j];
    counts[labels[i]] += w;
  }
}
}  // namespace personakit
