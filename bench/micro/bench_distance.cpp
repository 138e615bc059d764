// Pairwise distances (caller's block) and knn: the fast path against ref::, fp32
// and fp64, to back the GEMM-versus-micro-kernel decision in docs/kernels/assign.md.
// Args: N (x rows), M (y rows), D, dtype (32/64), path (0 = ref::, 1 = dispatched).
// Threads: OMP_NUM_THREADS.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "micro_common.hpp"
#include "personakit/distance.hpp"
#include "personakit/isa.hpp"

namespace pk = personakit;

namespace {

template <class T>
void run_pairwise(benchmark::State& st, pk::Metric m) {
  const std::size_t n = st.range(0), my = st.range(1), d = st.range(2);
  const bool fast = st.range(4) != 0;
  const auto xf = pkbench::data(n, d, 1), yf = pkbench::data(my, d, 2);
  const std::vector<T> x(xf.begin(), xf.end()), y(yf.begin(), yf.end());
  std::vector<T> out(n * my);
  for (auto _ : st) {
    if (fast) pk::pairwise(m, x.data(), n, y.data(), my, d, out.data(), my);
    else pk::ref::pairwise(m, x.data(), n, y.data(), my, d, out.data(), my);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * my * d * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(fast ? pk::isa_name(pk::active_isa()) : "ref");
}

void BM_pairwise_sq(benchmark::State& st) {
  if (st.range(3) == 32) run_pairwise<float>(st, pk::Metric::sqeuclidean);
  else run_pairwise<double>(st, pk::Metric::sqeuclidean);
}
void BM_pairwise_cosine(benchmark::State& st) {
  if (st.range(3) == 32) run_pairwise<float>(st, pk::Metric::cosine);
  else run_pairwise<double>(st, pk::Metric::cosine);
}

void pairwise_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t d : {16, 64, 256})
    for (std::int64_t dt : {32, 64})
      for (std::int64_t path : {0, 1}) b->Args({2048, 512, d, dt, path});
  b->ArgNames({"N", "M", "D", "fp", "fast"})->UseRealTime()->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_pairwise_sq)->Apply(pairwise_args);
BENCHMARK(BM_pairwise_cosine)->Apply(pairwise_args);

void BM_knn(benchmark::State& st) {
  const std::size_t n = st.range(0), my = st.range(1), d = st.range(2), kk = st.range(3);
  const auto x = pkbench::data(n, d, 1), y = pkbench::data(my, d, 2);
  std::vector<std::int64_t> idx(n * kk);
  std::vector<float> dist(n * kk);
  for (auto _ : st) {
    pk::knn_rows(x.data(), n, y.data(), my, d, kk, idx.data(), dist.data());
    benchmark::DoNotOptimize(idx.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * my * d * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_knn)->Args({2048, 20000, 16, 10})->Args({2048, 20000, 64, 10})
    ->ArgNames({"N", "M", "D", "kk"})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("personakit_isa", pk::isa_name(pk::active_isa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
