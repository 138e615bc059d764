// Streamed initialisation == in-memory initialisation, byte for byte, for n below the
// init sampling threshold max(2^20, 64 k), whatever the source's block size and
// whatever the memory limit (regression: a sample size derived from memory_limit made
// the streamed random / k-means++ / k-means|| init sample 21845 of 40000 rows, so
// `personakit fit --memory-limit` gave a different fit from the in-memory one).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "lloyd_test_util.hpp"
#include "personakit/kmeans.hpp"

namespace pk = personakit;
using pktest::make_blobs;

namespace {

// Blocks of exactly `rows` rows (need not be a multiple of align_rows: the init copy
// must not depend on the block boundaries either). No data() pointer.
class FixedBlockSource final : public pk::RowSource {
 public:
  FixedBlockSource(const std::vector<float>& x, std::size_t n, std::size_t d, std::size_t rows)
      : x_(x), n_(n), d_(d), rows_(rows) {}
  std::size_t rows() const override { return n_; }
  std::size_t cols() const override { return d_; }
  void for_each_block(std::size_t, const BlockFn& fn) override {
    for (std::size_t r = 0; r < n_; r += rows_) {
      const std::size_t m = std::min(rows_, n_ - r);
      buf_.assign(x_.begin() + static_cast<std::ptrdiff_t>(r * d_), x_.begin() + static_cast<std::ptrdiff_t>((r + m) * d_));
      fn(buf_.data(), r, m);
    }
  }
  void read_rows(const std::uint64_t* idx, std::size_t count, float* out) override {
    for (std::size_t t = 0; t < count; ++t) std::memcpy(out + t * d_, x_.data() + idx[t] * d_, d_ * sizeof(float));
  }

 private:
  const std::vector<float>& x_;
  std::size_t n_, d_, rows_;
  std::vector<float> buf_;
};

class StreamedInit : public ::testing::TestWithParam<pk::Init> {};

// 40000 rows (10 chunks): several blocks for every source below, far below 2^20.
constexpr std::size_t kN = 40000, kD = 4, kK = 6;

std::vector<float> weights_for(std::size_t n) {
  std::vector<float> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = static_cast<float>(1 + (pk::detail::splitmix64(i) % 4));
  return w;
}

}  // namespace

// The init itself: detail::init_centroids_source over sources of any block size
// (aligned or not) with the sample size fit(RowSource&) uses == init_for_fit on the matrix.
TEST_P(StreamedInit, InitFromSourceEqualsInMemoryAnyBlockSize) {
  const auto b = make_blobs(kN, kD, kK, 3.0, 11);
  const auto w = weights_for(kN);
  for (const bool weighted : {false, true}) {
    pk::KMeansParams p;
    p.k = kK;
    p.init = GetParam();
    p.weights = weighted ? w.data() : nullptr;
    const std::uint64_t seed = pk::detail::splitmix64(7);
    const auto mem = pk::detail::init_for_fit(b.x.data(), kN, kD, p, seed, p.weights, nullptr);
    for (const std::size_t rows : {std::size_t{1000}, std::size_t{4096}, std::size_t{3 * 4096}, kN}) {
      FixedBlockSource src(b.x, kN, kD, rows);
      const auto str = pk::detail::init_centroids_source(src, p, seed, std::size_t{1} << 20, nullptr);
      EXPECT_TRUE(pktest::same_bytes(mem, str)) << "block rows " << rows << " weighted " << weighted;
    }
  }
}

// The public contract: fit(RowSource&) == fit(x, n, d), centroids and inertia byte for
// byte, with and without a memory limit on the streamed fit (the limit must not change
// the init; with the old cap of limit/4/(4d+8) = 21845 rows < n it did), over
// sources delivering 1, 2 and 5 chunks per block.
TEST_P(StreamedInit, StreamedFitEqualsInMemoryWithMemoryLimit) {
  const auto b = make_blobs(kN, kD, kK, 3.0, 5);
  for (const std::size_t limit : {std::size_t{0}, std::size_t{2} << 20}) {
    pk::KMeansParams p;
    p.k = kK;
    p.init = GetParam();
    p.max_iter = 3;
    p.tol = 0;
    p.n_init = 2;
    p.seed = 3;
    const auto mem = pk::fit(b.x.data(), kN, kD, p);  // unlimited: its 12n-byte state exceeds 2 MiB
    p.memory_limit = limit;                            // streamed Lloyd's state (4n + partials) fits
    for (const std::size_t units : {std::size_t{1}, std::size_t{2}, std::size_t{5}}) {
      pktest::SmallBlockSource src(b.x, kN, kD, units);
      const auto str = pk::fit(src, p);
      EXPECT_TRUE(pktest::same_bytes(mem.centroids, str.centroids)) << "limit " << limit << " units " << units;
      EXPECT_EQ(std::memcmp(&mem.inertia, &str.inertia, sizeof(double)), 0) << "limit " << limit << " units " << units;
      EXPECT_EQ(mem.best_run, str.best_run);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, StreamedInit,
                         ::testing::Values(pk::Init::random, pk::Init::kmeanspp, pk::Init::kmeans_parallel),
                         [](const auto& info) {
                           switch (info.param) {
                             case pk::Init::random: return std::string("random");
                             case pk::Init::kmeanspp: return std::string("kmeanspp");
                             default: return std::string("kmeans_parallel");
                           }
                         });
