// Scores (issue 6): exact silhouette (the all-pairs pass), the streamed one-pass
// scores, and the external scores on many labels.
//
// Counters:
//   silhouette: GFLOP/s = 2·N²·D per call (the dot products; the clamp/sqrt/sum
//   epilogue is not counted) and its fraction of the measured FMA roofline; pairs/s.
//   stream (one pass): GB/s = 4·N·D + 4·N bytes read per pass; given = 0: CH + inertia
//   about the means, 1: centroids given (DB + CH + inertia, as `score --model`).
//   external: labels/s.
// CPU time is the whole process's (all threads): on a shared, loaded machine it shows
// the work done, while real time also counts waiting for a core.
// Args: silhouette N, D, K, threads, isa (0 scalar, 1 avx2, 2 avx512: the fused tile
//       kernel of that ISA, ScoreKernelTable);
//       stream N, D, K, threads, given; external N, Ka, Kb, which (0 ARI, 1 NMI, 2 AMI, 3 all).
// Run: --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true (STYLE.md).
// PERSONAKIT_BENCH_BIG=1 adds the 1e6 × 16 silhouette (about a minute per call).
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "micro_common.hpp"
#include "personakit/assign.hpp"
#include "personakit/isa.hpp"
#include "personakit/score.hpp"

namespace pk = personakit;

namespace {

struct Clustered { std::vector<float> x; std::vector<std::int32_t> y; };

// Uniform data labelled by the nearest of K random rows: compact, unequal clusters
// like a k-means result. Built once per (N, D, K).
const Clustered& clustered(std::size_t n, std::size_t d, std::size_t k) {
  static std::map<std::tuple<std::size_t, std::size_t, std::size_t>, Clustered> cache;
  const auto key = std::make_tuple(n, d, k);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() > 1) cache.clear();
  Clustered c;
  c.x = pkbench::data(n, d, 1);
  const std::vector<float> cent = pkbench::data(k, d, 2);
  c.y.resize(n);
  pk::assign_nearest(c.x.data(), n, d, nullptr, pk::PackedCentroids(cent.data(), k, d), c.y.data(), nullptr);
  return cache.emplace(key, std::move(c)).first->second;
}

std::vector<std::int32_t> labels(std::size_t n, std::size_t k, std::uint64_t seed) {
  std::vector<std::int32_t> l(n);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  for (auto& v : l) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<std::int32_t>((s >> 33) % k);
  }
  return l;
}

void BM_silhouette(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0)), d = static_cast<std::size_t>(st.range(1)),
             k = static_cast<std::size_t>(st.range(2));
  const int threads = static_cast<int>(st.range(3));
  const auto isa = static_cast<pk::Isa>(st.range(4));
  if (!pk::isa_supported(isa)) { st.SkipWithError("ISA not supported here"); return; }
  pk::force_isa(isa);
  omp_set_num_threads(threads);
  const Clustered& c = clustered(n, d, k);
  double mean = 0;
  for (auto _ : st) {
    mean = pk::silhouette(c.x.data(), n, d, c.y.data()).mean;
    benchmark::DoNotOptimize(mean);
  }
  if (!(mean > -1 && mean < 1)) st.SkipWithError("silhouette out of range");
  const double flops = 2.0 * double(n) * double(n) * double(d);
  st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["pairs/s"] = benchmark::Counter(double(n) * double(n), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["silhouette"] = mean;
  st.counters["fma_peak_gflops"] = pkbench::roofline(threads).fma_gflops;
}

void BM_stream(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0)), d = static_cast<std::size_t>(st.range(1)),
             k = static_cast<std::size_t>(st.range(2));
  const int threads = static_cast<int>(st.range(3));
  const bool given = st.range(4) != 0;
  omp_set_num_threads(threads);
  const Clustered& c = clustered(n, d, k);
  std::vector<float> cent;
  if (given) {  // the cluster means as fp32, as a converged model's centroids
    pk::ScoreAccumulator m(d);
    m.add_block(c.x.data(), c.y.data(), n);
    const auto r = m.finish();
    cent.assign(r.means.begin(), r.means.end());
  }
  for (auto _ : st) {
    pk::ScoreAccumulator acc(d);
    if (given) acc.set_centroids(cent.data(), k);
    acc.add_block(c.x.data(), c.y.data(), n);
    const auto r = acc.finish();
    benchmark::DoNotOptimize(r.calinski_harabasz);
    benchmark::DoNotOptimize(r.davies_bouldin);
  }
  const double bytes = 4.0 * double(n) * double(d + 1);
  st.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["read_peak_gbs"] = pkbench::roofline(threads).read_gbs;
}

void BM_external(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0));
  const auto ka = static_cast<std::size_t>(st.range(1)), kb = static_cast<std::size_t>(st.range(2));
  const int which = static_cast<int>(st.range(3));
  static std::map<std::tuple<std::size_t, std::size_t, std::size_t>, std::pair<std::vector<std::int32_t>, std::vector<std::int32_t>>> cache;
  auto key = std::make_tuple(n, ka, kb);
  if (!cache.count(key)) {
    cache.clear();
    auto a = labels(n, ka, 1), b = labels(n, kb, 2);
    for (std::size_t i = 0; i < n; i += 2) b[i] = a[i] % static_cast<std::int32_t>(kb);  // related, not identical
    cache.emplace(key, std::make_pair(std::move(a), std::move(b)));
  }
  const auto& [a, b] = cache.at(key);
  double v = 0;
  for (auto _ : st) {
    switch (which) {
      case 0: v = pk::adjusted_rand(a.data(), b.data(), n); break;
      case 1: v = pk::normalized_mutual_info(a.data(), b.data(), n); break;
      case 2: v = pk::adjusted_mutual_info(a.data(), b.data(), n); break;
      default: v = pk::external_scores(a.data(), b.data(), n).ami; break;
    }
    benchmark::DoNotOptimize(v);
  }
  st.counters["labels/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["value"] = v;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  pkbench::add_context();
  auto* s = benchmark::RegisterBenchmark("BM_silhouette", BM_silhouette);
  s->ArgNames({"N", "D", "K", "threads", "isa"})->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
  // The fused tile kernel of each ISA (AVX-512, AVX2, scalar reference) at 1 and 2
  // threads. The scalar one takes ~a minute per call: filter it out for quick runs
  // (--benchmark_filter='BM_silhouette/.*isa:[12]').
  for (int isa : {2, 1, 0})
    for (int th : {1, 2}) s->Args({50000, 16, 8, th, isa});
  if (const char* big = std::getenv("PERSONAKIT_BENCH_BIG"); big && *big == '1') {
    auto* b = benchmark::RegisterBenchmark("BM_silhouette_big", BM_silhouette);
    b->ArgNames({"N", "D", "K", "threads", "isa"})->Unit(benchmark::kSecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(1);
    b->Args({1000000, 16, 8, 2, 2});
  }
  auto* t = benchmark::RegisterBenchmark("BM_stream", BM_stream);
  t->ArgNames({"N", "D", "K", "threads", "given"})->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
  for (int given : {0, 1})
    for (int th : {1, 2}) t->Args({1000000, 16, 8, th, given});
  auto* e = benchmark::RegisterBenchmark("BM_external", BM_external);
  e->ArgNames({"N", "Ka", "Kb", "which"})->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
  for (int w : {0, 1, 2, 3}) e->Args({10000000, 10, 12, w});
  e->Args({10000000, 1000, 1200, 3});
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
