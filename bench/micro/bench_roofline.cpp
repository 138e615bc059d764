// The roofline probe itself: FP32 FMA peak (GFLOP/s) and streaming read bandwidth
// (GB/s) of this machine, 1 and 2 threads, with active_isa()'s widest vectors.
// Run: bench_roofline --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include "personakit/isa.hpp"
#include "personakit/roofline.hpp"

namespace {

void BM_roofline(benchmark::State& st) {
  const int threads = int(st.range(0));
  personakit::Roofline r;
  for (auto _ : st) r = personakit::measure_roofline(threads, 0.3);
  st.counters["fma_GFLOP/s"] = r.fma_gflops;
  st.counters["read_GB/s"] = r.read_gbs;
  st.counters["fma_GFLOP/s_per_cpu_s"] = r.fma_gflops_cpu;
  st.SetLabel(personakit::isa_name(personakit::active_isa()));
}
BENCHMARK(BM_roofline)->Arg(1)->Arg(2)->ArgName("thr")->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("personakit_isa", personakit::isa_name(personakit::active_isa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
