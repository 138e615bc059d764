// measure_roofline: the timing loops around the per-ISA probes (fma_spin, read_sum).
#include "personakit/roofline.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernel_table.hpp"
#include "personakit/error.hpp"

namespace personakit {

namespace {
double thread_cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
volatile float g_sink;  // keeps the probes' results alive
}  // namespace

Roofline measure_roofline(int threads, double seconds_each) {
  if (threads < 1) throw Error("measure_roofline: threads must be at least 1");
  if (!(seconds_each > 0)) throw Error("measure_roofline: seconds_each must be positive");
  const auto& kt = detail::kernel_table();
  Roofline r;
  r.threads = threads;

  // FMA peak: every thread spins for seconds_each in rounds of 2^20 iterations.
  std::vector<double> flops(threads, 0.0), secs(threads, 0.0), cpus(threads, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    double f = 0, done = 0;
    kt.fma_spin(1 << 16, &f);  // warm-up (clock ramp, page in the code)
#pragma omp barrier
    const double t0 = now(), c0 = thread_cpu();
    float acc = 0;
    do {
      acc += kt.fma_spin(1 << 20, &f);
      done += f;
    } while (now() - t0 < seconds_each);
    secs[t] = now() - t0;
    cpus[t] = thread_cpu() - c0;
    flops[t] = done;
    g_sink = acc;
  }
  double total = 0;
  for (double f : flops) total += f;
  r.fma_gflops = total / *std::max_element(secs.begin(), secs.end()) * 1e-9;
  for (int t = 0; t < threads; ++t) r.fma_gflops_cpu += flops[t] / cpus[t] * 1e-9;

  // Read bandwidth: 512 MiB, far beyond any L3 here, each thread its own slice.
  const std::size_t n = (std::size_t(512) << 20) / sizeof(float);
  std::unique_ptr<float, decltype(&std::free)> buf(
      static_cast<float*>(std::aligned_alloc(64, n * sizeof(float))), &std::free);
  if (!buf) throw Error("measure_roofline: cannot allocate the 512 MiB read buffer");
  float* p = buf.get();
  const std::size_t per = (n / threads) / 64 * 64;
  std::vector<double> pass_s;
  int stop_flag = 0;  // written by the master between barriers, read by all
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    float* mine = p + std::size_t(t) * per;
    for (std::size_t i = 0; i < per; ++i) mine[i] = 1.0f;  // first touch by the reader
    float acc = 0;
    const double start = now();
    for (int pass = 0;; ++pass) {
      double t0 = 0;
#pragma omp barrier
#pragma omp master
      t0 = now();
      acc += kt.read_sum(mine, per);
#pragma omp barrier
#pragma omp master
      {
        if (pass > 0) pass_s.push_back(now() - t0);  // pass 0 warms the TLB and clocks
      }
#pragma omp master
      stop_flag = (pass >= 2 && now() - start >= seconds_each) ? 1 : 0;
#pragma omp barrier
      const int stop = stop_flag;
#pragma omp barrier
      if (stop) break;
    }
    g_sink = acc;
  }
  std::sort(pass_s.begin(), pass_s.end());
  const double med = pass_s[pass_s.size() / 2];
  r.read_gbs = double(per) * threads * sizeof(float) / med * 1e-9;
  return r;
}

}  // namespace personakit
