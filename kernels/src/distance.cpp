// Pairwise distances. PLACEHOLDER: scalar loops until the SIMD kernels land (issue 3).
#include <cmath>
#include <type_traits>

#include "personakit/assign.hpp"
#include "personakit/distance.hpp"
#include "personakit/error.hpp"

namespace personakit {

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::sqeuclidean: return "sqeuclidean";
    case Metric::euclidean: return "euclidean";
    case Metric::cosine: return "cosine";
    case Metric::inner_product: return "inner_product";
    case Metric::manhattan: return "manhattan";
  }
  return "unknown";
}

namespace {
template <class T>
T metric_value(Metric m, const T* a, const T* b, std::size_t d) {
  if constexpr (std::is_same_v<T, float>) {
    if (m == Metric::sqeuclidean || m == Metric::euclidean) {
      const float v = sqdist_canonical(a, sqnorm_canonical(a, d), b, sqnorm_canonical(b, d), d);
      return m == Metric::euclidean ? std::sqrt(v) : v;
    }
  }
  double dot = 0, na = 0, nb = 0, l1 = 0, l2 = 0;
  for (std::size_t j = 0; j < d; ++j) {
    dot += double(a[j]) * b[j]; na += double(a[j]) * a[j]; nb += double(b[j]) * b[j];
    l1 += std::fabs(double(a[j]) - b[j]); l2 += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
  }
  switch (m) {
    case Metric::sqeuclidean: return T(l2);
    case Metric::euclidean: return T(std::sqrt(l2));
    case Metric::cosine: return (na == 0 || nb == 0) ? T(0) : T(1 - dot / std::sqrt(na * nb));
    case Metric::inner_product: return T(dot);
    case Metric::manhattan: return T(l1);
  }
  return T(0);
}
template <class T>
void pairwise_impl(Metric m, const T* x, std::size_t n, const T* y, std::size_t my, std::size_t d, T* out, std::size_t ldo) {
  if (ldo < my) throw Error("pairwise: ldo must be at least the number of y rows");
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < my; ++j) out[i * ldo + j] = metric_value(m, x + i * d, y + j * d, d);
}
}  // namespace

void pairwise(Metric m, const float* x, std::size_t n, const float* y, std::size_t my, std::size_t d, float* out, std::size_t ldo) { pairwise_impl(m, x, n, y, my, d, out, ldo); }
void pairwise(Metric m, const double* x, std::size_t n, const double* y, std::size_t my, std::size_t d, double* out, std::size_t ldo) { pairwise_impl(m, x, n, y, my, d, out, ldo); }
namespace ref {
void pairwise(Metric m, const float* x, std::size_t n, const float* y, std::size_t my, std::size_t d, float* out, std::size_t ldo) { pairwise_impl(m, x, n, y, my, d, out, ldo); }
void pairwise(Metric m, const double* x, std::size_t n, const double* y, std::size_t my, std::size_t d, double* out, std::size_t ldo) { pairwise_impl(m, x, n, y, my, d, out, ldo); }
}  // namespace ref

}  // namespace personakit
