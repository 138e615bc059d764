// Shared helpers for the Lloyd / init / mini-batch tests: seeded blobs, a scalar
// reference Lloyd, and a RowSource that delivers small blocks and no data().
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kmeans/internal.hpp"
#include "personakit/assign.hpp"
#include "personakit/source.hpp"

namespace pktest {

// Gaussian blobs: centres uniform in [-spread, spread]^d, unit-variance noise.
struct Blobs {
  std::size_t n = 0, d = 0, k = 0;
  std::vector<float> x, centres;
  std::vector<int> truth;
};

inline double normal(std::uint64_t key, std::uint64_t i) {
  const double u1 = std::max(personakit::detail::uniform01(key, 2 * i), 1e-300);
  const double u2 = personakit::detail::uniform01(key, 2 * i + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

inline Blobs make_blobs(std::size_t n, std::size_t d, std::size_t k, double spread, std::uint64_t seed) {
  Blobs b;
  b.n = n; b.d = d; b.k = k;
  b.x.resize(n * d);
  b.centres.resize(k * d);
  b.truth.resize(n);
  for (std::size_t e = 0; e < k * d; ++e)
    b.centres[e] = static_cast<float>((2 * personakit::detail::uniform01(seed ^ 0xC0FFEE, e) - 1) * spread);
  for (std::size_t i = 0; i < n; ++i) {
    const int l = static_cast<int>(personakit::detail::splitmix64(seed + i) % k);
    b.truth[i] = l;
    for (std::size_t j = 0; j < d; ++j)
      b.x[i * d + j] = static_cast<float>(b.centres[l * d + j] + normal(seed, i * d + j));
  }
  return b;
}

// Scalar reference Lloyd iteration: ref::assign_nearest, then fp64 partial sums per
// kChunkRows chunk (row order) added in chunk order — the documented update rule.
// Returns the labels; c is replaced by the new centroids (empty clusters keep theirs).
inline std::vector<std::int32_t> ref_lloyd_step(const std::vector<float>& x, std::size_t n, std::size_t d,
                                                std::vector<float>& c, std::size_t k, const float* w = nullptr) {
  std::vector<std::int32_t> lab(n);
  std::vector<float> dist(n);
  personakit::ref::assign_nearest(x.data(), n, d, c.data(), k, lab.data(), dist.data());
  std::vector<double> tot(k * d, 0.0), wt(k, 0.0);
  const std::size_t ch = personakit::detail::kChunkRows;
  for (std::size_t r0 = 0; r0 < n; r0 += ch) {
    std::vector<double> ps(k * d, 0.0), pw(k, 0.0);
    for (std::size_t i = r0; i < std::min(n, r0 + ch); ++i) {
      const double wi = w ? w[i] : 1.0;
      for (std::size_t j = 0; j < d; ++j) ps[lab[i] * d + j] += wi * x[i * d + j];
      pw[lab[i]] += wi;
    }
    for (std::size_t e = 0; e < k * d; ++e) tot[e] += ps[e];
    for (std::size_t l = 0; l < k; ++l) wt[l] += pw[l];
  }
  for (std::size_t l = 0; l < k; ++l)
    if (wt[l] > 0)
      for (std::size_t j = 0; j < d; ++j) c[l * d + j] = static_cast<float>(tot[l * d + j] / wt[l]);
  return lab;
}

// fp64 inertia of centroids c over x by the scalar reference (weights optional).
inline double ref_inertia(const std::vector<float>& x, std::size_t n, std::size_t d, const std::vector<float>& c,
                          std::size_t k, const float* w = nullptr) {
  std::vector<std::int32_t> lab(n);
  std::vector<float> dist(n);
  personakit::ref::assign_nearest(x.data(), n, d, c.data(), k, lab.data(), dist.data());
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += (w ? w[i] : 1.0) * dist[i];
  return s;
}

// A streaming source: blocks of `blocks_of` aligned units, no data() pointer, each
// block copied into a private buffer (so no pointer into the original survives).
class SmallBlockSource final : public personakit::RowSource {
 public:
  SmallBlockSource(const std::vector<float>& x, std::size_t n, std::size_t d, std::size_t blocks_of = 3)
      : x_(x), n_(n), d_(d), units_(blocks_of) {}
  std::size_t rows() const override { return n_; }
  std::size_t cols() const override { return d_; }
  void for_each_block(std::size_t align_rows, const BlockFn& fn) override {
    ++passes;
    const std::size_t step = std::max<std::size_t>(1, align_rows) * units_;
    for (std::size_t r = 0; r < n_; r += step) {
      const std::size_t m = std::min(step, n_ - r);
      buf_.assign(x_.begin() + static_cast<std::ptrdiff_t>(r * d_), x_.begin() + static_cast<std::ptrdiff_t>((r + m) * d_));
      fn(buf_.data(), r, m);
    }
  }
  void read_rows(const std::uint64_t* idx, std::size_t count, float* out) override {
    for (std::size_t t = 0; t < count; ++t) std::memcpy(out + t * d_, x_.data() + idx[t] * d_, d_ * sizeof(float));
  }
  int passes = 0;

 private:
  const std::vector<float>& x_;
  std::size_t n_, d_, units_;
  std::vector<float> buf_;
};

inline bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace pktest
