// Internal: labels of any int32 values mapped to dense ids 0..K-1 (ascending value).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace personakit::score_detail {

struct DenseLabels {
  std::vector<std::int32_t> values;  // K distinct values, ascending
  std::vector<std::int32_t> id;      // n entries: dense id in [0, K), or -1 for a dropped row
  std::vector<std::int64_t> counts;  // K
  std::size_t kept = 0;              // rows with id >= 0
};

// drop: n flags (1 = drop the row) or nullptr. Dropped rows get id -1.
// O(n + range) with a direct table when max-min is small, else O(n log n).
DenseLabels dense_labels(const std::int32_t* labels, std::size_t n, const std::uint8_t* drop);

// For internal scores: negatives are dropped when skip_negative, else Error naming `who`.
DenseLabels internal_labels(const std::int32_t* labels, std::size_t n, bool skip_negative,
                            const char* who);

// Splitmix64: the seeded generator of silhouette sampling (portable, fixed sequence).
inline std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace personakit::score_detail
