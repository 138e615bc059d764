// Counter-based random numbers: every value is a pure function of (key, stream,
// row, draw index), so output never depends on the thread count or block size.
#pragma once
#include <cmath>
#include <cstdint>

namespace personakit::datasets::detail {

// The splitmix64 / Stafford "mix13" finaliser: a bijection on 64 bits with full
// avalanche.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// A splitmix64 sequence whose starting point is a hash of (key, stream, row).
class CounterRng {
 public:
  CounterRng(std::uint64_t key, std::uint64_t stream, std::uint64_t row)
      : base_(mix64(mix64(key) ^ mix64(stream * 0xd1b54a32d192ed03ULL + row))) {}
  std::uint64_t next() { return mix64(base_ + (++ctr_) * kGolden); }
  // Uniform in (0, 1): never 0, so log() is always finite.
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }
  // Standard normal by Marsaglia's polar method (no sin/cos; 4/pi pairs of draws
  // per accepted pair on average); the second value of each pair is kept.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u, v, s;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * f;
    has_spare_ = true;
    return u * f;
  }

 private:
  std::uint64_t base_;
  std::uint64_t ctr_ = 0;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace personakit::datasets::detail
