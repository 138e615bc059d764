// Shared helpers for the micro-benchmarks: deterministic data, the measured
// roofline (once per process), and the run context.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "personakit/isa.hpp"
#include "personakit/roofline.hpp"

namespace pkbench {

// Uniform floats in [-4, 4) from a 64-bit LCG keyed by (seed, index): fast and
// reproducible, whatever the thread count.
inline std::vector<float> data(std::size_t rows, std::size_t d, std::uint64_t seed) {
  std::vector<float> v(rows * d);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& f : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    f = float(double(s >> 40) / double(1ull << 24) * 8.0 - 4.0);
  }
  return v;
}

// Roofline per thread count, measured on first use (0.3 s per ceiling).
inline const personakit::Roofline& roofline(int threads) {
  static std::map<int, personakit::Roofline> cache;
  auto it = cache.find(threads);
  if (it == cache.end()) it = cache.emplace(threads, personakit::measure_roofline(threads, 0.3)).first;
  return it->second;
}

inline void add_context() {
  benchmark::AddCustomContext("personakit_isa", personakit::isa_name(personakit::active_isa()));
  for (int t : {1, 2}) {
    const auto& r = roofline(t);
    benchmark::AddCustomContext("roofline_fma_gflops_" + std::to_string(t) + "t", std::to_string(r.fma_gflops));
    benchmark::AddCustomContext("roofline_read_gbs_" + std::to_string(t) + "t", std::to_string(r.read_gbs));
    benchmark::AddCustomContext("roofline_fma_gflops_per_cpu_s_" + std::to_string(t) + "t", std::to_string(r.fma_gflops_cpu));
  }
#ifdef PERSONAKIT_GIT_COMMIT
  benchmark::AddCustomContext("commit", PERSONAKIT_GIT_COMMIT);
#endif
#ifdef PERSONAKIT_BUILD_FLAGS
  benchmark::AddCustomContext("flags", PERSONAKIT_BUILD_FLAGS);
#endif
  benchmark::AddCustomContext("seed", "fixed (data seeds 1, 2)");
}

}  // namespace pkbench
