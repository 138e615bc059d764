// Exact accelerated k-means (elkan, hamerly, yinyang, exponion): from the same initial
// centroids each must produce run_lloyd's labels at EVERY iteration, hence the same
// centroids (byte for byte), inertia, iteration count and convergence flag. No
// tolerance anywhere: the variants compute the same canonical fp32 distances as Lloyd
// for every centroid they do not prune, and prune only centroids proven strictly
// worse, so equality is exact by construction (kernels/src/kmeans/bounds.hpp).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#include "personakit/kmeans.hpp"

namespace pk = personakit;

// Screened Lloyd screens only at d >= 32 by default; these tests make it screen at every
// d (ties in one and two dimensions, grids), except where a test says otherwise.
static const bool kScreenAnyD = [] { return ::setenv("PERSONAKIT_SCREEN_ANY_D", "1", 1) == 0; }();

namespace {

struct Data {
  std::string name;
  std::size_t n = 0, d = 0;
  std::vector<float> x;
  std::vector<float> w;  // empty = unweighted
};

// Gaussian blobs: `centres` centres uniform in [-spread, spread]^d, unit noise.
Data blobs(std::size_t n, std::size_t d, std::size_t centres, double spread, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> U(-spread, spread);
  std::normal_distribution<double> N(0.0, 1.0);
  std::vector<double> c(centres * d);
  for (auto& v : c) v = U(g);
  Data D{"blobs_d" + std::to_string(d), n, d, std::vector<float>(n * d), {}};
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t q = g() % centres;
    for (std::size_t f = 0; f < d; ++f) D.x[i * d + f] = static_cast<float>(c[q * d + f] + N(g));
  }
  return D;
}

// Customer-like: heavy-tailed (log-normal) spend columns on a large offset, plus a few
// bounded columns. Large norms next to small gaps make the fp32 distances' rounding
// matter, which is where near-ties come from.
Data customers(std::size_t n, std::size_t d, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> N(0.0, 1.0);
  Data D{"customers_d" + std::to_string(d), n, d, std::vector<float>(n * d), {}};
  for (std::size_t i = 0; i < n; ++i) {
    const double seg = static_cast<double>(g() % 5);
    for (std::size_t f = 0; f < d; ++f) {
      const double v = (f % 3 == 0) ? 1000.0 + 50.0 * std::exp(0.8 * N(g) + 0.3 * seg)
                     : (f % 3 == 1) ? 40.0 + 10.0 * seg + 3.0 * N(g)
                                    : std::floor(std::exp(1.0 + 0.5 * N(g)));
      D.x[i * d + f] = static_cast<float>(v);
    }
  }
  return D;
}

// Integer-valued data on a tiny grid: distances are exact small integers, so a row is
// often exactly equidistant from several centroids (exact ties, lowest index wins).
Data grid(std::size_t n, std::size_t d, int levels, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  Data D{"grid_d" + std::to_string(d), n, d, std::vector<float>(n * d), {}};
  for (auto& v : D.x) v = static_cast<float>(static_cast<int>(g() % static_cast<unsigned>(levels)));
  return D;
}

// Few distinct rows, each repeated many times.
Data duplicated(std::size_t n, std::size_t d, std::size_t distinct, std::uint64_t seed) {
  Data base = blobs(distinct, d, 4, 5.0, seed);
  Data D{"dup_d" + std::to_string(d), n, d, std::vector<float>(n * d), {}};
  for (std::size_t i = 0; i < n; ++i)
    std::memcpy(&D.x[i * d], &base.x[(i % distinct) * d], d * sizeof(float));
  return D;
}

// Rows on the perpendicular bisectors of pairs of grid centroids, jittered by a few
// ulps: the two candidates' fp32 distances differ by about their rounding error.
Data bisectors(std::size_t n, std::size_t d, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  Data D{"bisect_d" + std::to_string(d), n, d, std::vector<float>(n * d), {}};
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t f = 0; f < d; ++f) {
      float v = static_cast<float>(static_cast<int>(g() % 4)) + 0.5f;
      for (int s = static_cast<int>(g() % 5) - 2; s != 0; s += (s < 0) ? 1 : -1)
        v = std::nextafter(v, s > 0 ? 10.0f : -10.0f);
      D.x[i * d + f] = v * 3.0f + 100.0f;
    }
  return D;
}

// Initial centroids: k rows of the data (distinct when possible), chosen by seed.
std::vector<float> pick_rows(const Data& D, std::size_t k, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<float> c(k * D.d);
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t r = g() % D.n;
    std::memcpy(&c[j * D.d], &D.x[r * D.d], D.d * sizeof(float));
  }
  return c;
}

struct Trace {
  std::vector<std::vector<std::int32_t>> labels;  // per iteration
  pk::KMeansResult res;
};

// src: fit streamed from it (fit(RowSource&)) instead of in memory; memory_limit: 0 = none.
Trace run(const Data& D, pk::Algorithm a, const std::vector<float>& init, std::size_t k,
          double tol, int max_iter, pk::RowSource* src = nullptr, std::size_t memory_limit = 0) {
  Trace t;
  pk::KMeansParams p;
  p.memory_limit = memory_limit;
  p.k = k;
  p.algorithm = a;
  p.init = pk::Init::given;
  p.init_centroids = init.data();
  p.tol = tol;
  p.max_iter = max_iter;
  if (!D.w.empty()) p.weights = D.w.data();
  p.on_assignment = [&](int it, const std::int32_t* lab) {
    EXPECT_EQ(static_cast<std::size_t>(it), t.labels.size() + 1) << "iterations numbered 1, 2, ...";
    t.labels.emplace_back(lab, lab + D.n);
  };
  t.res = src ? pk::fit(*src, p) : pk::fit(D.x.data(), D.n, D.d, p);
  return t;
}

// Everything Lloyd decides must be identical: per-iteration labels, then the result.
void expect_same(const Trace& lloyd, const Trace& v, const std::string& what) {
  ASSERT_EQ(lloyd.labels.size(), v.labels.size()) << what << ": number of assignment passes";
  for (std::size_t it = 0; it < lloyd.labels.size(); ++it) {
    std::size_t diff = 0, first = 0;
    for (std::size_t i = 0; i < lloyd.labels[it].size(); ++i)
      if (lloyd.labels[it][i] != v.labels[it][i] && diff++ == 0) first = i;
    ASSERT_EQ(diff, 0u) << what << ": iteration " << it + 1 << ", first differing row " << first
                        << " (lloyd " << lloyd.labels[it][first] << ", variant " << v.labels[it][first] << ")";
  }
  const auto& a = lloyd.res;
  const auto& b = v.res;
  EXPECT_EQ(a.iterations, b.iterations) << what;
  EXPECT_EQ(a.converged, b.converged) << what;
  EXPECT_EQ(a.labels, b.labels) << what << ": final labels";
  ASSERT_EQ(a.centroids.size(), b.centroids.size()) << what;
  EXPECT_EQ(0, std::memcmp(a.centroids.data(), b.centroids.data(), a.centroids.size() * sizeof(float)))
      << what << ": final centroids differ in some bit";
  EXPECT_EQ(a.inertia, b.inertia) << what << ": inertia (same dist bits, same summation order)";
  EXPECT_EQ(a.sizes, b.sizes) << what;
}

// In memory: the bounded variants and screened Lloyd (its bf16 screen on CPUs with
// AVX512_BF16; on others it runs Lloyd's passes, and ScreenedEveryIsa below covers the
// screen through the scalar reference kernel on any CPU).
const pk::Algorithm kVariants[] = {pk::Algorithm::elkan, pk::Algorithm::hamerly, pk::Algorithm::yinyang,
                                   pk::Algorithm::exponion, pk::Algorithm::screened};
// Streamed: the bounded variants (streamed, screened runs Lloyd's streamed passes).
const pk::Algorithm kBounded[] = {pk::Algorithm::elkan, pk::Algorithm::hamerly, pk::Algorithm::yinyang,
                                  pk::Algorithm::exponion};

struct Case {
  Data data;
  std::size_t k;
  double tol;
  int max_iter;
  std::uint64_t init_seed;
};

// Sets the OpenMP thread count for a scope. The case matrix runs on one thread (the
// labels are per row, so threads cannot change them; a loaded 2-core machine makes
// many short parallel regions slow); the tests below that say so run on two.
class Threads {
 public:
  explicit Threads(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(saved_); }
 private:
  int saved_;
};

// Forces an ISA for a scope (the kernels dispatched inside it), then restores the one
// that was active.
class ForcedIsa {
 public:
  explicit ForcedIsa(pk::Isa isa) : saved_(pk::active_isa()) { pk::force_isa(isa); }
  ~ForcedIsa() { pk::force_isa(saved_); }
 private:
  pk::Isa saved_;
};

void check_case(const Case& c, int threads = 1) {
  const Threads scope(threads);
  const auto init = pick_rows(c.data, c.k, c.init_seed);
  const Trace lloyd = run(c.data, pk::Algorithm::lloyd, init, c.k, c.tol, c.max_iter);
  ASSERT_FALSE(lloyd.labels.empty());
  for (const auto a : kVariants) {
    const std::string what = std::string(pk::algorithm_name(a)) + " on " + c.data.name + " k=" + std::to_string(c.k);
    SCOPED_TRACE(what);
    const Trace v = run(c.data, a, init, c.k, c.tol, c.max_iter);
    expect_same(lloyd, v, what);
    EXPECT_EQ(v.res.algorithm, a);
    EXPECT_GT(v.res.state_bytes, 0u) << what;
  }
}

}  // namespace

// tol = 0: run until no label changes (or max_iter), so every iteration's bounds are used.
TEST(Accelerated, GaussianBlobs) {
  for (const std::size_t d : {2u, 16u, 33u})
    for (const std::size_t k : {2u, 7u, 64u})
      check_case({blobs(1500, d, 12, 8.0, 11 + d), k, 0.0, 40, 5 + k});
}

TEST(Accelerated, OneDimension) {
  check_case({blobs(2000, 1, 6, 20.0, 3), 7, 0.0, 80, 1});
  check_case({grid(2000, 1, 9, 4), 5, 0.0, 80, 2});
}

TEST(Accelerated, SingleCluster) {
  check_case({blobs(1500, 16, 3, 4.0, 9), 1, 0.0, 20, 3});
}

TEST(Accelerated, CustomerLikeHeavyTailed) {
  for (const std::size_t d : {2u, 16u})
    for (const std::size_t k : {7u, 64u})
      check_case({customers(1500, d, 21 + d), k, 1e-4, 40, 7 + k});
  check_case({customers(1500, 16, 5), 7, 0.0, 40, 9});
}

TEST(Accelerated, IntegerGridExactTies) {
  for (const std::size_t d : {1u, 2u, 16u})
    for (const std::size_t k : {2u, 7u, 64u}) {
      if (d == 1 && k == 64) continue;  // only 9 distinct rows
      // 9 levels in d = 1 and 2 (9 and 81 distinct rows), 4 in d = 16.
      check_case({grid(1500, d, d == 16 ? 4 : 9, 31 + d), k, 0.0, 40, 17 + k});
    }
}

TEST(Accelerated, DuplicatedRows) {
  for (const std::size_t d : {2u, 33u}) check_case({duplicated(1500, d, 97, 41 + d), 64, 0.0, 40, 3});
}

TEST(Accelerated, NearTiesOnBisectors) {
  for (const std::size_t d : {2u, 16u, 33u}) check_case({bisectors(1500, d, 51 + d), 7, 0.0, 40, 77});
}

// An initial centroid far from every row leaves its cluster empty: update_centroids
// re-seeds it with the farthest row, relabelling rows outside the variants' assignment.
TEST(Accelerated, EmptyClusterReseeding) {
  Data D = blobs(1500, 16, 8, 10.0, 61);
  auto init = pick_rows(D, 7, 1);
  for (std::size_t f = 0; f < D.d; ++f) init[3 * D.d + f] = 1000.0f;
  for (std::size_t f = 0; f < D.d; ++f) init[5 * D.d + f] = -1000.0f;
  const Threads scope(2);
  const Trace lloyd = run(D, pk::Algorithm::lloyd, init, 7, 0.0, 40);
  for (const auto a : kVariants) expect_same(lloyd, run(D, a, init, 7, 0.0, 40), pk::algorithm_name(a));
}

TEST(Accelerated, ZeroAndFractionalWeights) {
  Data D = customers(1500, 16, 71);
  std::mt19937_64 g(5);
  D.w.resize(D.n);
  for (auto& v : D.w) v = (g() % 4 == 0) ? 0.0f : static_cast<float>(1 + g() % 7) * 0.25f;
  check_case({D, 7, 0.0, 40, 3}, 2);
  check_case({D, 64, 1e-4, 40, 4});
}

// On well-separated blobs the bounds must save work: fewer distance evaluations than
// Lloyd's n·k per iteration (plus its final pass), over the same iterations.
TEST(Accelerated, FewerDistanceEvaluationsOnSeparatedData) {
  const Threads scope(1);
  Data D = blobs(6000, 16, 64, 40.0, 81);
  const auto init = pick_rows(D, 64, 2);
  const Trace lloyd = run(D, pk::Algorithm::lloyd, init, 64, 0.0, 100);
  ASSERT_GE(lloyd.res.iterations, 3) << "the test needs several iterations to mean anything";
  for (const auto a : kVariants) {
    const Trace v = run(D, a, init, 64, 0.0, 100);
    expect_same(lloyd, v, pk::algorithm_name(a));
    // Screened: its exact count depends on how many rows its screen leaves open and on
    // its back-off (ScreenedEveryIsa checks it where the screen suits the data).
    if (a == pk::Algorithm::screened) continue;
    EXPECT_LT(v.res.distance_evaluations, lloyd.res.distance_evaluations) << pk::algorithm_name(a);
    // Iteration 1 has no bounds (n·k); every later one must prune most of the work.
    EXPECT_LT(v.res.distance_evaluations, lloyd.res.distance_evaluations / 2) << pk::algorithm_name(a);
  }
}

// Results must not depend on the number of threads (labels are per row; the update is
// Lloyd's fixed-chunk fp64 sum).
TEST(Accelerated, SameResultForOneAndTwoThreads) {
  Data D = customers(1200, 16, 91);
  const auto init = pick_rows(D, 64, 6);
  Trace lloyd;
  {
    const Threads scope(2);
    lloyd = run(D, pk::Algorithm::lloyd, init, 64, 0.0, 30);
  }
  for (const auto a : kVariants) {
    Trace one, two;
    {
      const Threads scope(1);
      one = run(D, a, init, 64, 0.0, 30);
    }
    {
      const Threads scope(2);
      two = run(D, a, init, 64, 0.0, 30);
    }
    expect_same(one, two, pk::algorithm_name(a));
    expect_same(lloyd, two, pk::algorithm_name(a));
    // Each row's work is decided by its own bounds only, so the count is thread-free too.
    EXPECT_EQ(one.res.distance_evaluations, two.res.distance_evaluations) << pk::algorithm_name(a);
  }
}

// Progress callbacks see Lloyd's inertia at every iteration (the variants then compute
// the n exact distances to the assigned centroids).
TEST(Accelerated, ProgressReportsLloydsInertia) {
  const Threads scope(1);
  Data D = blobs(2000, 8, 10, 6.0, 101);
  const auto init = pick_rows(D, 10, 7);
  auto trace = [&](pk::Algorithm a) {
    std::vector<double> v;
    pk::KMeansParams p;
    p.k = 10; p.algorithm = a; p.init = pk::Init::given; p.init_centroids = init.data(); p.tol = 0;
    p.progress = [&](const pk::Progress& pr) { v.push_back(pr.inertia); return true; };
    pk::fit(D.x.data(), D.n, D.d, p);
    return v;
  };
  const auto ref = trace(pk::Algorithm::lloyd);
  for (const auto a : kVariants) EXPECT_EQ(ref, trace(a)) << pk::algorithm_name(a);
}

// Yinyang moves each group bound by its members' largest displacement since the pass
// that set it (kept for a window of W passes; older bounds are moved to the current
// pass as their row passes). Small windows (W = 2: the classic chain of per-pass shifts;
// 4, 8) must still give Lloyd's labels at every iteration, over fits many times longer
// than the window, on overlapping blobs (centroids that wander) and on a tie-heavy grid;
// and the full window must compute fewer distances than W = 2 on the wandering
// centroids (the point of the displacement bounds).
TEST(Accelerated, YinyangDisplacementWindows) {
  const Threads scope(2);
  struct Env {
    ~Env() { ::unsetenv("PERSONAKIT_YINYANG_WINDOW"); }
  } env;
  const Data blob = blobs(8000, 3, 2, 0.5, 131), ties = grid(1500, 3, 4, 132);
  for (const Data* D : {&blob, &ties}) {
    const std::size_t k = D == &blob ? 60 : 30;
    const auto init = pick_rows(*D, k, 9);
    const Trace lloyd = run(*D, pk::Algorithm::lloyd, init, k, 0.0, 200);
    if (D == &blob) ASSERT_GE(lloyd.res.iterations, 40) << "the windows must be outlived many times over";
    std::uint64_t evals[33] = {};
    for (const int w : {2, 4, 8, 32}) {
      ::setenv("PERSONAKIT_YINYANG_WINDOW", std::to_string(w).c_str(), 1);
      const std::string what = D->name + " W=" + std::to_string(w);
      const Trace v = run(*D, pk::Algorithm::yinyang, init, k, 0.0, 200);
      expect_same(lloyd, v, what);
      evals[w] = v.res.distance_evaluations;
    }
    if (D == &blob) EXPECT_LT(evals[32], evals[2]) << "displacement bounds saved nothing";
  }
}

// Yinyang evaluates its local-filter survivors with the dispatched panel16_rows kernel
// (rows of a block batched per sub-panel) on centroids packed group by group into
// 16-lane sub-panels, and Yinyang and Hamerly get
// D(i, a) from own_sqdist. Every ISA must give
// Lloyd's labels at every iteration, including groups wider than one sub-panel (k = 19:
// one group of 19 members, two sub-panels) and many groups (k = 150: 15 groups), on
// real-valued blobs and on an integer grid with exact ties.
TEST(Accelerated, YinyangGroupPanelsEveryIsa) {
  const Threads scope(2);
  for (const pk::Isa isa : pk::available_isas()) {
    const ForcedIsa forced(isa);
    for (const std::size_t d : {3u, 33u, 64u}) {
      for (const std::size_t k : {19u, 150u}) {
        for (const bool ties : {false, true}) {
          Data D = ties ? grid(2000, d, 8, 17 + d) : blobs(2000, d, 40, 3.0, 13 + d);
          const auto init = pick_rows(D, k, 3 + k);
          const Trace lloyd = run(D, pk::Algorithm::lloyd, init, k, 0.0, 15);
          // Hamerly: D(i, a) through the dispatched own_sqdist as well.
          for (const auto a : {pk::Algorithm::yinyang, pk::Algorithm::hamerly}) {
            const Trace y = run(D, a, init, k, 0.0, 15);
            expect_same(lloyd, y, std::string(pk::algorithm_name(a)) + " isa=" + pk::isa_name(isa) +
                                      " d=" + std::to_string(d) + " k=" + std::to_string(k) +
                                      (ties ? " grid" : " blobs"));
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------
// Streamed (fit(RowSource&)): one pass over the source per iteration, labels and bounds
// in memory, the update's fp64 partials per fixed chunk added in chunk order: the same
// labels at every iteration and the same bits as in memory.
namespace {

// A source with no data(): blocks of `units` chunks through for_each_block, or, with
// ranges, per-chunk range reads from the threads that compute the chunks (the HDF5
// source's pread path; tests/datasets/test_direct.cpp runs the real one).
class StreamSource final : public pk::RowSource {
 public:
  StreamSource(const Data& D, std::size_t units, bool ranges) : D_(D), units_(units), ranges_(ranges) {}
  std::size_t rows() const override { return D_.n; }
  std::size_t cols() const override { return D_.d; }
  void for_each_block(std::size_t align, const BlockFn& fn) override {
    ++passes;
    const std::size_t step = std::max<std::size_t>(1, align) * units_;
    for (std::size_t r = 0; r < D_.n; r += step) {
      const std::size_t m = std::min(step, D_.n - r);
      buf_.assign(D_.x.begin() + static_cast<std::ptrdiff_t>(r * D_.d),
                  D_.x.begin() + static_cast<std::ptrdiff_t>((r + m) * D_.d));
      fn(buf_.data(), r, m);
    }
  }
  void read_rows(const std::uint64_t* idx, std::size_t count, float* out) override {
    for (std::size_t t = 0; t < count; ++t) std::memcpy(out + t * D_.d, &D_.x[idx[t] * D_.d], D_.d * sizeof(float));
  }
  bool parallel_reads() const override { return ranges_; }
  void read_range(std::size_t row0, std::size_t nrows, float* out) override {
    std::memcpy(out, &D_.x[row0 * D_.d], nrows * D_.d * sizeof(float));
  }
  void begin_pass() override { ++passes; }
  int passes = 0;

 private:
  const Data& D_;
  std::size_t units_;
  bool ranges_;
  std::vector<float> buf_;
};

constexpr std::size_t kChunk = 4096;  // detail::kChunkRows: the update's fixed chunk

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pk::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// Six chunks and a partial one, k = 24, with and without (zero and fractional) weights,
// stopped after 3 iterations (then the final assignment pass) and run to convergence;
// the source read in blocks of two chunks and by per-chunk range reads, at 1 and 2
// threads. Per-iteration labels, final labels, centroids (bytes), inertia (bits),
// iterations, sizes, and the distance count (the same rows take the same paths).
TEST(Accelerated, StreamedEqualsInMemoryBitForBit) {
  Data D = blobs(6 * kChunk + 777, 8, 20, 6.0, 123);
  const std::size_t k = 24;
  const auto init = pick_rows(D, k, 9);
  std::vector<float> w(D.n);
  std::mt19937_64 g(17);
  for (auto& v : w) v = (g() % 5 == 0) ? 0.0f : static_cast<float>(1 + g() % 7) * 0.25f;
  for (const bool weighted : {false, true}) {
    D.w = weighted ? w : std::vector<float>{};
    for (const int max_iter : {3, 300}) {
      Trace lloyd;
      {
        const Threads scope(2);
        lloyd = run(D, pk::Algorithm::lloyd, init, k, 0.0, max_iter);
      }
      if (max_iter == 300) EXPECT_TRUE(lloyd.res.converged) << "the case must reach strict convergence";
      for (const auto a : kBounded) {
        Trace mem;
        {
          const Threads scope(2);
          mem = run(D, a, init, k, 0.0, max_iter);
        }
        for (const bool ranges : {false, true})
          for (const int threads : {1, 2}) {
            const std::string what = std::string(pk::algorithm_name(a)) + (weighted ? " weighted" : "") +
                                     " max_iter=" + std::to_string(max_iter) + (ranges ? " ranges" : " blocks") +
                                     " threads=" + std::to_string(threads);
            SCOPED_TRACE(what);
            const Threads scope(threads);
            StreamSource src(D, 2, ranges);
            const Trace str = run(D, a, init, k, 0.0, max_iter, &src);
            expect_same(mem, str, what);
            expect_same(lloyd, str, what);
            EXPECT_EQ(mem.res.distance_evaluations, str.res.distance_evaluations);
            EXPECT_EQ(str.res.algorithm, a);
            // One pass per iteration (the first also reads the statistics) plus the final one.
            EXPECT_EQ(src.passes, str.res.iterations + 2);
          }
      }
    }
  }
}

// Empty clusters (two initial centroids far from every row) take the streamed re-seed
// pass: the same farthest rows, the same moves and bound resets as in memory. Progress
// sees the same inertia at every iteration.
TEST(Accelerated, StreamedReseedAndProgressEqualInMemory) {
  const Threads scope(2);
  Data D = blobs(3 * kChunk + 100, 16, 8, 10.0, 61);
  auto init = pick_rows(D, 7, 1);
  for (std::size_t f = 0; f < D.d; ++f) init[3 * D.d + f] = 1000.0f;
  for (std::size_t f = 0; f < D.d; ++f) init[5 * D.d + f] = -1000.0f;
  for (const auto a : kBounded) {
    SCOPED_TRACE(pk::algorithm_name(a));
    const Trace mem = run(D, a, init, 7, 0.0, 40);
    StreamSource src(D, 1, true);
    const Trace str = run(D, a, init, 7, 0.0, 40, &src);
    expect_same(mem, str, pk::algorithm_name(a));
    for (auto s : str.res.sizes) EXPECT_GT(s, 0);
    auto trace = [&](pk::RowSource* from) {
      std::vector<double> v;
      pk::KMeansParams p;
      p.k = 7; p.algorithm = a; p.init = pk::Init::given; p.init_centroids = init.data(); p.tol = 0;
      p.progress = [&](const pk::Progress& pr) { v.push_back(pr.inertia); return true; };
      const auto r = from ? pk::fit(*from, p) : pk::fit(D.x.data(), D.n, D.d, p);
      v.push_back(r.inertia);
      return v;
    };
    StreamSource again(D, 3, false);
    const auto ref = trace(nullptr);
    EXPECT_GT(ref.size(), 2u);
    EXPECT_EQ(ref, trace(&again));
  }
}

// The bounds must fit the memory limit: 4n bytes of labels, the variant's bounds
// (Elkan 4nk + 8n, Hamerly and Exponion 12n, Yinyang 4nt + 8n) and the partials in
// flight. At 1 MiB with n = 25353, k = 24: Elkan (2.9 MiB) is refused with a clear
// error; the others (< 0.8 MiB) run, report state within the limit, and keep the bits
// (the limit also shrinks the group of chunks in flight, which must not matter).
TEST(Accelerated, StreamedStateMustFitTheMemoryLimit) {
  const Threads scope(2);
  Data D = blobs(6 * kChunk + 777, 8, 20, 6.0, 7);
  const std::size_t k = 24, limit = std::size_t(1) << 20;
  const auto init = pick_rows(D, k, 3);
  for (const auto a : kBounded) {
    SCOPED_TRACE(pk::algorithm_name(a));
    StreamSource src(D, 2, true);
    if (a == pk::Algorithm::elkan) {
      const std::string e = error_of([&] { run(D, a, init, k, 0.0, 5, &src, limit); });
      EXPECT_NE(e.find("streamed elkan needs"), std::string::npos) << e;
      EXPECT_NE(e.find("more than the memory limit of 1.0 MiB"), std::string::npos) << e;
      EXPECT_EQ(src.passes, 0) << "refused before reading the source";
      continue;
    }
    const Trace str = run(D, a, init, k, 0.0, 5, &src, limit);
    EXPECT_LE(str.res.state_bytes, limit);
    EXPECT_GE(str.res.state_bytes, 16 * D.n);  // labels and at least 12 bytes of bounds per row
    expect_same(run(D, a, init, k, 0.0, 5), str, pk::algorithm_name(a));
    // A limit below the labels alone is refused for every variant.
    const std::string e = error_of([&] { run(D, a, init, k, 0.0, 5, &src, 64 << 10); });
    EXPECT_NE(e.find(std::string("streamed ") + pk::algorithm_name(a) + " needs"), std::string::npos) << e;
  }
}

// progress_inertia = false (the CLI under --quiet): the variants still call the progress
// callback every iteration, with a NaN inertia, skip the n exact distances per iteration
// that the inertia costs, and return the same fit.
TEST(Accelerated, ProgressWithoutInertiaSkipsItsDistances) {
  const Threads scope(2);
  Data D = blobs(2000, 8, 10, 6.0, 101);
  const auto init = pick_rows(D, 10, 7);
  for (const auto a : kVariants) {
    SCOPED_TRACE(pk::algorithm_name(a));
    auto go = [&](bool with_inertia, std::vector<double>& seen) {
      pk::KMeansParams p;
      p.k = 10; p.algorithm = a; p.init = pk::Init::given; p.init_centroids = init.data(); p.tol = 0;
      p.progress_inertia = with_inertia;
      p.progress = [&](const pk::Progress& pr) { seen.push_back(pr.inertia); return true; };
      return pk::fit(D.x.data(), D.n, D.d, p);
    };
    std::vector<double> with, without;
    const pk::KMeansResult r1 = go(true, with), r2 = go(false, without);
    ASSERT_EQ(with.size(), static_cast<std::size_t>(r1.iterations));
    ASSERT_EQ(without.size(), with.size());
    for (const double v : with) EXPECT_TRUE(std::isfinite(v));
    for (const double v : without) EXPECT_TRUE(std::isnan(v));
    EXPECT_EQ(r1.labels, r2.labels);
    EXPECT_EQ(r1.centroids, r2.centroids);
    EXPECT_EQ(r1.inertia, r2.inertia);
    EXPECT_EQ(r1.iterations, r2.iterations);
    if (a == pk::Algorithm::screened) {
      // Screened: the decided rows' distances are skipped (the open rows' come with their
      // assignment), and only when a screen ran.
      if (r1.screen_evaluations == 0) EXPECT_EQ(r1.distance_evaluations, r2.distance_evaluations);
      else EXPECT_LT(r2.distance_evaluations, r1.distance_evaluations);
      EXPECT_EQ(r1.screen_evaluations, r2.screen_evaluations);
      continue;
    }
    EXPECT_EQ(r1.distance_evaluations, r2.distance_evaluations + D.n * static_cast<std::uint64_t>(r1.iterations));
  }
}

// Screened Lloyd on every ISA: the scalar table screens with the reference kernel (any
// CPU), avx512 with VDPBF16PS where the CPU has AVX512_BF16, avx2 runs Lloyd's passes.
// Lloyd's labels at every iteration, its centroids, inertia and sizes, on real-valued
// blobs, on an integer grid with exact ties, on rows exactly on bisectors, and with
// zero and fractional weights; k across several panels and a partial last one, d odd
// and even. Where a screen ran it must have decided most rows of the separated blobs.
TEST(Accelerated, ScreenedEveryIsa) {
  const Threads scope(2);
  for (const pk::Isa isa : pk::available_isas()) {
    const ForcedIsa forced(isa);
    for (const std::size_t d : {3u, 33u, 64u}) {
      for (const std::size_t k : {19u, 150u}) {
        for (const int kind : {0, 1, 2, 3}) {
          if (kind >= 2 && d == 3 && k == 150) continue;  // d = 3: 64 distinct rows there
          Data D = kind == 0 ? blobs(1500, d, 40, 6.0, 13 + d)
                 : kind == 1 ? grid(1500, d, 8, 17 + d)
                 : kind == 2 ? bisectors(1500, d, 51 + d)
                             : customers(1500, d, 23 + d);
          if (kind == 3) {
            std::mt19937_64 g(5 + d);
            D.w.resize(D.n);
            for (auto& v : D.w) v = (g() % 4 == 0) ? 0.0f : static_cast<float>(1 + g() % 7) * 0.25f;
          }
          const auto init = pick_rows(D, k, 3 + k);
          const std::string what = std::string("screened isa=") + pk::isa_name(isa) + " d=" + std::to_string(d) +
                                   " k=" + std::to_string(k) + " kind=" + std::to_string(kind);
          SCOPED_TRACE(what);
          const Trace lloyd = run(D, pk::Algorithm::lloyd, init, k, 0.0, 12);
          const Trace v = run(D, pk::Algorithm::screened, init, k, 0.0, 12);
          expect_same(lloyd, v, what);
          if (isa == pk::Isa::scalar) EXPECT_GT(v.res.screen_evaluations, 0u) << "the reference screen runs anywhere";
          if (isa == pk::Isa::avx2) EXPECT_EQ(v.res.screen_evaluations, 0u) << "no bf16 dot product on avx2";
          if (kind == 0 && k < 40 && v.res.screen_evaluations > 0)  // fewer centroids than blobs
            EXPECT_LT(v.res.distance_evaluations, lloyd.res.distance_evaluations / 4)
                << "the screen should decide most rows of separated blobs";
        }
      }
    }
  }
}

// Screening is skipped where the bound cannot hold in fp32 (|values| >= 2^40): the fit
// then runs Lloyd's passes, with Lloyd's result, and counts no screen evaluations.
TEST(Accelerated, ScreenedSkipsHugeMagnitudes) {
  const Threads scope(2);
  Data D = blobs(1200, 8, 6, 6.0, 3);
  for (auto& v : D.x) v *= 0x1.0p41f;
  const auto init = pick_rows(D, 6, 1);
  const Trace lloyd = run(D, pk::Algorithm::lloyd, init, 6, 0.0, 20);
  const Trace v = run(D, pk::Algorithm::screened, init, 6, 0.0, 20);
  expect_same(lloyd, v, "screened, |x| ~ 2^41");
  EXPECT_EQ(v.res.screen_evaluations, 0u);
  EXPECT_EQ(v.res.distance_evaluations, lloyd.res.distance_evaluations);
}

// Without PERSONAKIT_SCREEN_ANY_D, screened runs Lloyd's passes below d = 32 (where it
// never paid) and screens from d = 32 on; Lloyd's result either way.
TEST(Accelerated, ScreenedScreensFromD32) {
  ASSERT_TRUE(kScreenAnyD);
  const Threads scope(2);
  const ForcedIsa forced(pk::Isa::scalar);  // the reference screen: available on any CPU
  ::unsetenv("PERSONAKIT_SCREEN_ANY_D");
  for (const std::size_t d : {16u, 32u}) {
    Data D = blobs(1200, d, 10, 6.0, 5 + d);
    const auto init = pick_rows(D, 10, 2);
    const Trace lloyd = run(D, pk::Algorithm::lloyd, init, 10, 0.0, 10);
    const Trace v = run(D, pk::Algorithm::screened, init, 10, 0.0, 10);
    expect_same(lloyd, v, "screened d=" + std::to_string(d));
    if (d < 32) EXPECT_EQ(v.res.screen_evaluations, 0u) << d;
    else EXPECT_GT(v.res.screen_evaluations, 0u) << d;
  }
  ::setenv("PERSONAKIT_SCREEN_ANY_D", "1", 1);
}

// Without PERSONAKIT_SCREEN_ANY_D, a pass that starts screening afresh first screens a
// probe of min(n, 2048) rows and runs exact when more than a quarter stay open. Where
// the features differ in scale by ~10^4 (bf16's error on the large one swamps the gaps
// of the small ones) screening never starts: the screen evaluations are whole probes
// and the exact distances Lloyd's. On separated blobs the probe passes and the screen
// decides most rows. Lloyd's result either way.
TEST(Accelerated, ScreenedProbeSkipsUnsuitableData) {
  ASSERT_TRUE(kScreenAnyD);
  const Threads scope(2);
  const ForcedIsa forced(pk::Isa::scalar);  // the reference screen: available on any CPU
  ::unsetenv("PERSONAKIT_SCREEN_ANY_D");
  const std::size_t n = 3000, d = 32, k = 40;
  Data wide = blobs(n, d, 40, 6.0, 61);
  std::mt19937_64 g(62);
  for (std::size_t i = 0; i < n; ++i) wide.x[i * d] = 1e5f + static_cast<float>(g() % 100000);
  const Data sep = blobs(n, d, 40, 6.0, 63);
  for (const Data* D : {static_cast<const Data*>(&wide), &sep}) {
    const auto init = pick_rows(*D, k, 4);
    const Trace lloyd = run(*D, pk::Algorithm::lloyd, init, k, 0.0, 25);
    const Trace v = run(*D, pk::Algorithm::screened, init, k, 0.0, 25);
    expect_same(lloyd, v, D == &wide ? "screened, one wide column" : "screened, separated blobs");
    const std::uint64_t probe = std::min<std::size_t>(n, 2048) * k;
    if (D == &wide) {
      EXPECT_GT(v.res.screen_evaluations, 0u);
      EXPECT_EQ(v.res.screen_evaluations % probe, 0u) << "only probes";
      EXPECT_EQ(v.res.distance_evaluations, lloyd.res.distance_evaluations) << "every pass exact";
    } else {
      EXPECT_GT(v.res.screen_evaluations, 2 * probe) << "the probe passes and the passes screen";
      EXPECT_LT(v.res.distance_evaluations, lloyd.res.distance_evaluations / 4);
    }
  }
  ::setenv("PERSONAKIT_SCREEN_ANY_D", "1", 1);
}
