// count_nonfinite's AVX2 loop (raw.cpp dispatches to it when the kernels' active
// ISA is avx2 or avx512). Built with -mavx2; only intrinsics, no inline functions
// shared with other files, so nothing compiled for AVX2 can be merged into them.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace personakit::datasets::detail::avx2 {

// Number of values with all exponent bits set in x[0..m). Two accumulators of
// 8 lanes: the compare-subtract chain is not the bound, the L2/L3 reads are.
std::size_t count_nonfinite(const float* x, std::size_t m) {
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), big = _mm256_set1_epi32(0x7f7fffff);
  __m256i c0 = _mm256_setzero_si256(), c1 = _mm256_setzero_si256();
  std::size_t i = 0;
  // Lane counts stay below 2^31: callers pass at most a few MiB at a time.
  for (; i + 16 <= m; i += 16) {
    const __m256i a = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), abs_mask);
    const __m256i b = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 8)), abs_mask);
    c0 = _mm256_sub_epi32(c0, _mm256_cmpgt_epi32(a, big));
    c1 = _mm256_sub_epi32(c1, _mm256_cmpgt_epi32(b, big));
  }
  alignas(32) std::int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi32(c0, c1));
  std::size_t bad = 0;
  for (int l = 0; l < 8; ++l) bad += static_cast<std::size_t>(lanes[l]);
  for (; i < m; ++i) {
    std::uint32_t u;
    __builtin_memcpy(&u, x + i, 4);
    bad += (u & 0x7fffffffu) > 0x7f7fffffu;
  }
  return bad;
}

}  // namespace personakit::datasets::detail::avx2
