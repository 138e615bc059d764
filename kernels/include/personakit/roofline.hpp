// The machine's own roofline, measured: FP32 FMA peak and streaming read
// bandwidth. Benchmarks report their rates as fractions of these numbers, so a
// "% of peak" is of a measured limit, not a datasheet.
#pragma once

namespace personakit {

struct Roofline {
  double fma_gflops = 0;  // FP32, 2 flops per FMA lane, widest ISA of active_isa()
  double read_gbs = 0;    // streaming read of a buffer far larger than the caches (1e9 B/s)
  int threads = 0;        // OpenMP threads used for both
  // FMA peak per CPU-second: sum over threads of flops / that thread's CPU time.
  // Equals fma_gflops on an idle machine; on a shared one it is the peak the
  // threads reach while they actually run (compare with kernel rates per CPU-second).
  double fma_gflops_cpu = 0;
};

// Measures both ceilings with `threads` OpenMP threads (>= 1), spending about
// `seconds_each` seconds on each:
//  - FMA peak: each thread runs 12 independent FMA chains (latency 4 × 2 pipes
//    needs >= 8) of active_isa()'s vector width; rate = total flops / slowest thread.
//  - read bandwidth: each thread sums its contiguous slice of a 512 MiB buffer
//    (first touched by the same thread), repeated; the median pass after a warm-up
//    pass is reported.
// Allocates the 512 MiB buffer for the duration of the call. Throws Error if
// threads < 1 or seconds_each <= 0, or if the buffer cannot be allocated.
Roofline measure_roofline(int threads, double seconds_each = 0.3);

}  // namespace personakit
