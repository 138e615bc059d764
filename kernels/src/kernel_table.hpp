// Internal: one table of serial kernels per ISA, chosen once per public call.
// Not installed. Every entry is single-threaded and allocation-free; the public
// wrappers (assign.cpp, distance.cpp) split rows into fixed blocks and run the
// blocks in parallel (or serially when already inside an OpenMP region).
#pragma once
#include <cstddef>
#include <cstdint>

#include "personakit/assign.hpp"
#include "personakit/isa.hpp"

namespace personakit::detail {

struct KernelTable {
  Isa isa;
  // out[i] = sqnorm_canonical(x_i).
  void (*row_norms)(const float* x, std::size_t n, std::size_t d, float* out);
  // assign_nearest on rows [0, n); xnorm may be nullptr (computed per row block).
  void (*nearest)(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                  const PackedCentroids& c, std::int32_t* labels, float* dist);
  // assign_nearest2 on rows [0, n); dist, dist2 may be nullptr.
  void (*nearest2)(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                   const PackedCentroids& c, std::int32_t* labels, float* dist,
                   std::int32_t* label2, float* dist2);
  // Canonical squared distances to centroids [p0*kPanel, min(k, p1*kPanel)):
  //   out[i*ldo + (t - p0*kPanel)] = sqdist(x_i, c_t).
  void (*sqdist_panels)(const float* x, std::size_t n, std::size_t d, const float* xnorm,
                        const PackedCentroids& c, std::size_t p0, std::size_t p1, float* out,
                        std::size_t ldo);
  // Canonical dots, same indexing: out[i*ldo + (t - p0*kPanel)] = dot_canonical(x_i, c_t).
  void (*dot_panels)(const float* x, std::size_t n, std::size_t d, const PackedCentroids& c,
                     std::size_t p0, std::size_t p1, float* out, std::size_t ldo);
  // accumulate_sums, exact semantics (fp64, row order).
  void (*accumulate)(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                     const float* weights, double* sums, double* counts);
  // Roofline probes: `iters` rounds of independent FMA chains; returns a value that
  // depends on every FMA (so nothing is elided) and writes the flops done to *flops.
  float (*fma_spin)(std::uint64_t iters, double* flops);
  // Sum of n floats (n a multiple of 64, p 64-byte aligned), streamed once.
  float (*read_sum)(const float* p, std::size_t n);
};

// The table of active_isa() (read once per public call: dispatch is hoisted).
const KernelTable& kernel_table();
// The table of a given ISA; throws Error if it is not supported here.
const KernelTable& kernel_table(Isa isa);

}  // namespace personakit::detail

namespace personakit::scalar { extern const detail::KernelTable kTable; }
namespace personakit::avx2 { extern const detail::KernelTable kTable; }
namespace personakit::avx512 { extern const detail::KernelTable kTable; }
