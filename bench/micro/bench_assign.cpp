// Fused nearest-centroid pass (assign_nearest), nearest-two and the centroid-update
// accumulation. Counters: GFLOP/s (2·N·K·D per pass), GB/s (4·N·D per pass) and
// the fraction of the roofline measured by this process (personakit/roofline.hpp).
//
// Args: N, D, K, threads, isa (0 scalar, 1 avx2, 2 avx512).
// Default set: the three target shapes on both SIMD ISAs and 1/2 threads,
// plus a small N = 1e4 grid. PERSONAKIT_BENCH_FULL=1 registers the full grid
// N in {1e4, 1e6} × D in {8,16,32,64,128} × K in {8,64,256,1024} × threads {1,2}.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <map>
#include <tuple>
#include <vector>

#include "micro_common.hpp"
#include "personakit/assign.hpp"
#include "personakit/isa.hpp"

namespace pk = personakit;

namespace {

struct Problem {
  std::vector<float> x, c, xnorm;
  pk::PackedCentroids pc;
};

// One problem per (N, D, K), built once and checked against ref:: on its first rows.
const Problem& problem(std::size_t n, std::size_t d, std::size_t k) {
  static std::map<std::tuple<std::size_t, std::size_t, std::size_t>, Problem> cache;
  auto key = std::make_tuple(n, d, k);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() > 2) cache.clear();  // bound memory across the grid
  Problem p;
  p.x = pkbench::data(n, d, 1);
  p.c = pkbench::data(k, d, 2);
  p.pc.pack(p.c.data(), k, d);
  p.xnorm.resize(n);
  pk::row_norms(p.x.data(), n, d, p.xnorm.data());
  return cache.emplace(key, std::move(p)).first->second;
}

bool check(const Problem& p, std::size_t d, std::size_t k, const std::int32_t* labels, const float* dist) {
  const std::size_t m = 512;
  std::vector<std::int32_t> lr(m);
  std::vector<float> dr(m);
  pk::ref::assign_nearest(p.x.data(), m, d, p.c.data(), k, lr.data(), dr.data());
  for (std::size_t i = 0; i < m; ++i)
    if (lr[i] != labels[i] || dr[i] != dist[i]) return false;
  return true;
}

void set_counters(benchmark::State& st, double flops, double bytes, double seconds, int threads);

double process_cpu() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// fma_frac_cpu: the same flops per CPU-second of the whole process, against the
// probe's per-CPU-second peak: robust to other tenants preempting us on a shared
// machine (idle OpenMP threads spin, so it errs low, never high).
void set_counters(benchmark::State& st, double flops, double bytes, double seconds, int threads,
                  double cpu_seconds) {
  const auto& rc = pkbench::roofline(threads);
  st.counters["fma_frac_cpu"] = flops * double(st.iterations()) / cpu_seconds * 1e-9 * threads / rc.fma_gflops_cpu;
  set_counters(st, flops, bytes, seconds, threads);
}

void set_counters(benchmark::State& st, double flops, double bytes, double seconds, int threads) {
  const auto& r = pkbench::roofline(threads);
  st.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const double it = double(st.iterations());
  st.counters["fma_frac"] = flops * it / seconds * 1e-9 / r.fma_gflops;
  st.counters["bw_frac"] = bytes * it / seconds * 1e-9 / r.read_gbs;
}

void BM_nearest(benchmark::State& st) {
  const std::size_t n = st.range(0), d = st.range(1), k = st.range(2);
  const int threads = int(st.range(3));
  const auto isa = static_cast<pk::Isa>(st.range(4));
  if (!pk::isa_supported(isa)) { st.SkipWithError("ISA not supported here"); return; }
  pk::force_isa(isa);
  omp_set_num_threads(threads);
  const Problem& p = problem(n, d, k);
  std::vector<std::int32_t> labels(n);
  std::vector<float> dist(n);
  pk::assign_nearest(p.x.data(), n, d, p.xnorm.data(), p.pc, labels.data(), dist.data());
  if (!check(p, d, k, labels.data(), dist.data())) { st.SkipWithError("mismatch with ref::assign_nearest"); return; }
  double secs = 0, cpu = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu();
    pk::assign_nearest(p.x.data(), n, d, p.xnorm.data(), p.pc, labels.data(), dist.data());
    cpu += process_cpu() - c0;
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(labels.data());
    benchmark::ClobberMemory();
  }
  set_counters(st, 2.0 * n * k * d, 4.0 * n * d, secs, threads, cpu);
  st.SetLabel(pk::isa_name(isa));
}

void BM_nearest2(benchmark::State& st) {
  const std::size_t n = st.range(0), d = st.range(1), k = st.range(2);
  const int threads = int(st.range(3));
  const auto isa = static_cast<pk::Isa>(st.range(4));
  if (!pk::isa_supported(isa)) { st.SkipWithError("ISA not supported here"); return; }
  pk::force_isa(isa);
  omp_set_num_threads(threads);
  const Problem& p = problem(n, d, k);
  std::vector<std::int32_t> l1(n), l2(n);
  std::vector<float> d1(n), d2(n);
  double secs = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    pk::assign_nearest2(p.x.data(), n, d, p.xnorm.data(), p.pc, l1.data(), d1.data(), l2.data(), d2.data());
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(l1.data());
    benchmark::ClobberMemory();
  }
  set_counters(st, 2.0 * n * k * d, 4.0 * n * d, secs, threads);
  st.SetLabel(pk::isa_name(isa));
}

// accumulate_sums over fixed 4096-row chunks in parallel (as the Lloyd engine does),
// per-chunk partials; bytes = 4·N·D read.
void BM_accumulate(benchmark::State& st) {
  const std::size_t n = st.range(0), d = st.range(1), k = st.range(2);
  const int threads = int(st.range(3));
  const auto isa = static_cast<pk::Isa>(st.range(4));
  if (!pk::isa_supported(isa)) { st.SkipWithError("ISA not supported here"); return; }
  pk::force_isa(isa);
  omp_set_num_threads(threads);
  const Problem& p = problem(n, d, k);
  std::vector<std::int32_t> labels(n);
  pk::assign_nearest(p.x.data(), n, d, p.xnorm.data(), p.pc, labels.data(), nullptr);
  const std::size_t chunk = 4096, nc = (n + chunk - 1) / chunk;
  std::vector<double> sums(nc * k * d), counts(nc * k);
  double secs = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static)
    for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(nc); ++b) {
      const std::size_t i0 = std::size_t(b) * chunk, m = std::min(chunk, n - i0);
      std::fill_n(sums.data() + b * k * d, k * d, 0.0);
      std::fill_n(counts.data() + b * k, k, 0.0);
      pk::accumulate_sums(p.x.data() + i0 * d, m, d, labels.data() + i0, nullptr, sums.data() + b * k * d,
                          counts.data() + b * k);
    }
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(sums.data());
    benchmark::ClobberMemory();
  }
  set_counters(st, 1.0 * n * d, 4.0 * n * d, secs, threads);
  st.SetLabel(pk::isa_name(isa));
}

void register_all() {
  const int simd[] = {int(pk::Isa::avx2), int(pk::Isa::avx512)};
  // The target shapes: compute-bound (1e6,32,64), (2e5,64,256); bandwidth-bound (1e6,16,8).
  const std::int64_t targets[][3] = {{1000000, 32, 64}, {200000, 64, 256}, {1000000, 16, 8}};
  auto* nb = benchmark::RegisterBenchmark("BM_nearest", BM_nearest);
  for (auto& t : targets)
    for (int th : {1, 2})
      for (int isa : simd) nb->Args({t[0], t[1], t[2], th, isa});
  if (const char* full = std::getenv("PERSONAKIT_BENCH_FULL"); full && *full == '1') {
    for (std::int64_t n : {10000, 1000000})
      for (std::int64_t d : {8, 16, 32, 64, 128})
        for (std::int64_t k : {8, 64, 256, 1024})
          for (int th : {1, 2}) nb->Args({n, d, k, th, int(pk::Isa::avx512)});
  } else {
    for (std::int64_t d : {8, 16, 32, 64, 128})
      for (std::int64_t k : {8, 64, 256, 1024}) nb->Args({10000, d, k, 2, int(pk::Isa::avx512)});
  }
  nb->ArgNames({"N", "D", "K", "thr", "isa"})->UseRealTime()->Unit(benchmark::kMillisecond);

  auto* n2 = benchmark::RegisterBenchmark("BM_nearest2", BM_nearest2);
  for (auto& t : targets) n2->Args({t[0], t[1], t[2], 2, int(pk::Isa::avx512)});
  n2->ArgNames({"N", "D", "K", "thr", "isa"})->UseRealTime()->Unit(benchmark::kMillisecond);

  auto* ac = benchmark::RegisterBenchmark("BM_accumulate", BM_accumulate);
  for (auto& t : targets)
    for (int isa : {int(pk::Isa::scalar), int(pk::Isa::avx512)}) ac->Args({t[0], t[1], t[2], 2, isa});
  ac->ArgNames({"N", "D", "K", "thr", "isa"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  pkbench::add_context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
