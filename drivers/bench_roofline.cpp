// `personakit bench roofline` and the assignment-pass measurement of `bench run`.
//
// Roofline: this machine's own limits, measured, never a datasheet.
//  - FP32 FMA peak: every thread runs 16 independent FMA chains on full vectors
//    (16 chains cover 4-cycle FMA latency × 2 FMA ports with room to spare), so the
//    loop is throughput-bound; GFLOP/s = 2 × lanes × chains × steps / seconds.
//  - Read bandwidth: every thread sums its slice of a 512 MiB array (far beyond L3),
//    8 vector accumulators; GB/s = bytes read / seconds. Best of the repetitions.
// The SIMD probes are the only ISA-specific code in this file: static functions with
// a target attribute, called only after isa_supported() says the CPU has that ISA.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench_cmd.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "personakit/assign.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#if __has_include("personakit/roofline.hpp")
#include "personakit/roofline.hpp"
#define PK_BENCH_HAVE_ROOFLINE 1
#endif

namespace personakit::bench {

namespace {

using clk = std::chrono::steady_clock;

double since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

// Returns FMAs×lanes done (per thread) in `steps` outer steps; sink prevents elimination.
__attribute__((target("avx512f"), noinline)) double fma_chains_avx512(long steps, float* sink) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(1.0f + 1e-3f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long s = 0; s < steps; ++s) {
    for (int r = 0; r < 8; ++r) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
  }
  __m512 t = acc[0];
  for (int i = 1; i < 16; ++i) t = _mm512_add_ps(t, acc[i]);
  alignas(64) float v[16];
  _mm512_store_ps(v, t);
  float sum = 0;
  for (float f : v) sum += f;
  *sink = sum;
  return double(steps) * 8 * 16 * 16;
}

__attribute__((target("avx2,fma"), noinline)) double fma_chains_avx2(long steps, float* sink) {
  __m256 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm256_set1_ps(1.0f + 1e-3f * i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long s = 0; s < steps; ++s) {
    for (int r = 0; r < 8; ++r) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
  }
  __m256 t = acc[0];
  for (int i = 1; i < 16; ++i) t = _mm256_add_ps(t, acc[i]);
  alignas(32) float v[8];
  _mm256_store_ps(v, t);
  *sink = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
  return double(steps) * 8 * 16 * 8;
}

double fma_chains_scalar(long steps, float* sink) {
  float acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = 1.0f + 1e-3f * i;
  for (long s = 0; s < steps; ++s)
    for (int r = 0; r < 8; ++r)
      for (int i = 0; i < 16; ++i) acc[i] = std::fma(acc[i], 0.999999f, 1e-7f);
  float t = 0;
  for (float v : acc) t += v;
  *sink = t;
  return double(steps) * 8 * 16;
}

__attribute__((target("avx512f"), noinline)) double sum_avx512(const float* x, std::size_t n) {
  __m512 acc[8];
  for (auto& a : acc) a = _mm512_set1_ps(0.0f);
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128)
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_add_ps(acc[j], _mm512_load_ps(x + i + 16 * j));
  __m512 t = acc[0];
  for (int j = 1; j < 8; ++j) t = _mm512_add_ps(t, acc[j]);
  alignas(64) float v[16];
  _mm512_store_ps(v, t);
  double s = 0;
  for (float f : v) s += f;
  for (; i < n; ++i) s += x[i];
  return s;
}

__attribute__((target("avx2"), noinline)) double sum_avx2(const float* x, std::size_t n) {
  __m256 acc[8];
  for (auto& a : acc) a = _mm256_set1_ps(0.0f);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_add_ps(acc[j], _mm256_load_ps(x + i + 8 * j));
  __m256 t = acc[0];
  for (int j = 1; j < 8; ++j) t = _mm256_add_ps(t, acc[j]);
  alignas(32) float v[8];
  _mm256_store_ps(v, t);
  double s = 0;
  for (float f : v) s += f;
  for (; i < n; ++i) s += x[i];
  return s;
}

double sum_scalar(const float* x, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += x[i];
  return s;
}

double probe_fma_gflops(int threads, double seconds, Isa isa) {
  auto run = [&](long steps) {
    double flops = 0;
    std::vector<float> sink(std::max(threads, 1) * 16);
    const auto t0 = clk::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
      float* s = &sink[omp_get_thread_num() * 16];
      double f = isa == Isa::avx512 ? fma_chains_avx512(steps, s)
                 : isa == Isa::avx2 ? fma_chains_avx2(steps, s)
                                    : fma_chains_scalar(steps, s);
      flops += 2.0 * f;
    }
    return std::make_pair(flops, since(t0));
  };
  long steps = 1 << 12;
  auto r = run(steps);
  while (r.second < 0.02) {
    steps *= 4;
    r = run(steps);
  }
  // Repetitions of ~seconds/5 each; the best is the peak.
  const long reps = 5;
  steps = std::max<long>(1, long(steps * (seconds / reps) / r.second));
  double best = 0;
  for (long i = 0; i < reps; ++i) {
    auto q = run(steps);
    best = std::max(best, q.first / q.second * 1e-9);
  }
  return best;
}

double probe_read_gbps(int threads, double seconds, Isa isa) {
  const std::size_t n = (std::size_t(512) << 20) / sizeof(float);
  float* x = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  if (!x) throw personakit::Error("roofline: cannot allocate the 512 MiB bandwidth buffer");
  std::unique_ptr<float, decltype(&std::free)> hold(x, &std::free);
  // First touch by the threads that read it (page placement), static schedule both times.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::size_t i = 0; i < n; ++i) x[i] = 1.0f;
  auto pass = [&] {
    double total = 0;
    const auto t0 = clk::now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const int nt = omp_get_num_threads(), me = omp_get_thread_num();
      const std::size_t chunk = (n / nt) & ~std::size_t(127);
      const std::size_t b = chunk * me, e = (me == nt - 1) ? n : b + chunk;
      total += isa == Isa::avx512 ? sum_avx512(x + b, e - b)
               : isa == Isa::avx2 ? sum_avx2(x + b, e - b)
                                  : sum_scalar(x + b, e - b);
    }
    double t = since(t0);
    if (total != double(n)) throw personakit::Error("roofline: bandwidth probe summed wrongly");
    return t;
  };
  double best = 1e300, spent = 0;
  int done = 0;
  while (done < 3 || spent < seconds) {
    double t = pass();
    best = std::min(best, t);
    spent += t;
    if (++done >= 50) break;
  }
  return double(n) * sizeof(float) / best * 1e-9;
}

Isa probe_isa() {
  if (isa_supported(Isa::avx512)) return Isa::avx512;
  if (isa_supported(Isa::avx2)) return Isa::avx2;
  return Isa::scalar;
}

std::string fmtd(double v, int prec) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
  return o.str();
}

}  // namespace

ojson measure_roofline_json(int threads, double seconds_each) {
  ojson r;
#ifdef PK_BENCH_HAVE_ROOFLINE
  // The kernels' own probe (vector width of active_isa(), median read pass).
  const Roofline m = measure_roofline(threads, seconds_each);
  r["threads"] = m.threads;
  r["fma_gflops"] = m.fma_gflops;
  r["read_gbps"] = m.read_gbs;
  r["probe_isa"] = isa_name(active_isa());
  r["source"] = "personakit::measure_roofline";
  return r;
#endif
  // Fallback when the kernels library has no probe: this file's own.
  const Isa isa = probe_isa();
  r["threads"] = threads;
  r["fma_gflops"] = probe_fma_gflops(threads, seconds_each, isa);
  r["read_gbps"] = probe_read_gbps(threads, seconds_each, isa);
  r["probe_isa"] = isa_name(isa);
  r["source"] = "drivers/bench_roofline.cpp (16 FMA chains per thread; sum of a 512 MiB array)";
  return r;
}

ojson measure_assign_pass(const float* x, std::size_t n, std::size_t d, const float* c, std::size_t k,
                          int threads, const ojson& roofline) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  PackedCentroids pc(c, k, d);
  std::vector<float> xn(n), dist(n);
  std::vector<std::int32_t> labels(n);
  row_norms(x, n, d, xn.data());
  assign_nearest(x, n, d, xn.data(), pc, labels.data(), dist.data());  // warm-up
  std::vector<double> t;
  double spent = 0;
  while (t.size() < 5 || (spent < 0.5 && t.size() < 15)) {
    const auto t0 = clk::now();
    assign_nearest(x, n, d, xn.data(), pc, labels.data(), dist.data());
    t.push_back(since(t0));
    spent += t.back();
  }
  omp_set_num_threads(saved);
  Stats s = stats_of(t);
  const double flops = 2.0 * double(n) * double(k) * double(d);
  const double bytes = 4.0 * double(n) * double(d);  // the rows, read once per pass
  ojson r;
  r["seconds"] = s.median;
  r["seconds_min"] = s.min;
  r["seconds_max"] = s.max;
  r["runs"] = t.size();
  r["gflops"] = flops / s.median * 1e-9;
  r["gbps"] = bytes / s.median * 1e-9;
  r["arithmetic_intensity"] = flops / bytes;  // = K/2 flop per byte
  r["isa"] = isa_name(active_isa());
  if (roofline.is_object() && roofline.contains("fma_gflops")) {
    const double peak = roofline["fma_gflops"].get<double>(), bw = roofline["read_gbps"].get<double>();
    const double mem_bound = bw * flops / bytes;
    r["bound"] = mem_bound < peak ? "memory" : "compute";
    r["roofline_gflops"] = std::min(peak, mem_bound);
    r["roofline_fraction"] = (flops / s.median * 1e-9) / std::min(peak, mem_bound);
    r["fraction_of_fma_peak"] = (flops / s.median * 1e-9) / peak;
    r["fraction_of_read_bw"] = (bytes / s.median * 1e-9) / bw;
  }
  return r;
}

bool apply_global_options(CLI::App& app) {
  try {
    auto* t = app.get_option("--threads");
    if (t && t->count()) {
      int n = t->as<int>();
      if (n < 1) {
        std::cerr << "personakit: error: --threads " << n << ": must be at least 1\n";
        return false;
      }
      omp_set_num_threads(n);
    }
    auto* i = app.get_option("--isa");
    if (i && i->count()) {
      Isa want = parse_isa(i->as<std::string>());
      if (!isa_supported(want)) {
        std::cerr << "personakit: error: --isa " << i->as<std::string>() << ": not supported here\n";
        return false;
      }
      force_isa(want);
    }
  } catch (const std::exception& e) {
    std::cerr << "personakit: error: " << e.what() << "\n";
    return false;
  }
  return true;
}

int run_roofline(const RooflineOptions& o, std::ostream& out, std::ostream& err) {
  return cli::guarded(err, [&]() -> int {
    const int all = omp_get_max_threads();
    std::vector<int> ts = {1};
    if (all > 1) ts.push_back(all);
    ojson doc;
    doc["cpu_threads"] = all;
    doc["kernel_isa"] = isa_name(active_isa());
    ojson rows = ojson::array();
    for (int t : ts) rows.push_back(measure_roofline_json(t, o.seconds));
    doc["measurements"] = rows;
    if (o.json) {
      out << doc.dump() << "\n";
      return 0;
    }
    out << "roofline of this machine (probe ISA " << rows[0]["probe_isa"].get<std::string>() << ", "
        << o.seconds << " s per probe, best of repetitions)\n";
    out << "  threads   FP32 FMA peak GFLOP/s   read bandwidth GB/s   ridge flop/byte\n";
    for (const auto& r : rows) {
      const double p = r["fma_gflops"].get<double>(), b = r["read_gbps"].get<double>();
      out << "  " << std::setw(7) << r["threads"].get<int>() << "   " << std::setw(21) << fmtd(p, 1) << "   "
          << std::setw(19) << fmtd(b, 1) << "   " << std::setw(15) << fmtd(p / b, 2) << "\n";
    }
    out << "(assignment pass: 2·N·K·D flop over 4·N·D bytes = K/2 flop/byte: memory-bound below the ridge)\n";
    return 0;
  });
}

}  // namespace personakit::bench
