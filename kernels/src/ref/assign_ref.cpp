// Scalar references for the assignment kernels: clear, not fast.
#include <cmath>
#include <limits>

#include "personakit/assign.hpp"

namespace personakit {

float dot_canonical(const float* x, const float* c, std::size_t d) {
  float acc = 0.0f;
  for (std::size_t j = 0; j < d; ++j) acc = std::fma(x[j], c[j], acc);
  return acc;
}

float sqnorm_canonical(const float* x, std::size_t d) { return dot_canonical(x, x, d); }

float sqdist_canonical(const float* x, float xnorm, const float* c, float cnorm, std::size_t d) {
  const float v = std::fma(-2.0f, dot_canonical(x, c, d), xnorm + cnorm);
  return v < 0.0f ? 0.0f : v;
}

namespace ref {

void assign_nearest(const float* x, std::size_t n, std::size_t d, const float* c, std::size_t k,
                    std::int32_t* labels, float* dist) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    const float xn = sqnorm_canonical(xi, d);
    float best = std::numeric_limits<float>::infinity();
    std::int32_t arg = 0;
    for (std::size_t j = 0; j < k; ++j) {
      const float v = sqdist_canonical(xi, xn, c + j * d, sqnorm_canonical(c + j * d, d), d);
      if (v < best) { best = v; arg = static_cast<std::int32_t>(j); }  // strict: lowest index wins ties
    }
    labels[i] = arg;
    if (dist) dist[i] = best;
  }
}

void assign_nearest2(const float* x, std::size_t n, std::size_t d, const float* c, std::size_t k,
                     std::int32_t* labels, float* dist, std::int32_t* label2, float* dist2) {
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * d;
    const float xn = sqnorm_canonical(xi, d);
    float b1 = inf, b2 = inf;
    std::int32_t a1 = -1, a2 = -1;
    for (std::size_t j = 0; j < k; ++j) {
      const float v = sqdist_canonical(xi, xn, c + j * d, sqnorm_canonical(c + j * d, d), d);
      const auto jj = static_cast<std::int32_t>(j);
      if (a1 < 0 || v < b1) { b2 = b1; a2 = a1; b1 = v; a1 = jj; }
      else if (a2 < 0 || v < b2) { b2 = v; a2 = jj; }
    }
    labels[i] = a1; if (dist) dist[i] = b1;
    label2[i] = a2; if (dist2) dist2[i] = b2;
  }
}

}  // namespace ref
}  // namespace personakit
