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

// ---- score kernels (issue 6) ----
// A second table with the same dispatch (active_isa(), PERSONAKIT_ISA, force_isa), kept
// apart so that the distance kernels' per-ISA files need no change. Defined in
// ref/silhouette_ref.cpp, avx2/silhouette_avx2.cpp, avx512/silhouette_avx512.cpp (the
// tables), the moments kernels in */score_moments_*.cpp.
namespace personakit::detail {

struct ScoreKernelTable {
  Isa isa;
  // One tile of the exact silhouette's symmetric all-pairs pass (score/silhouette.cpp):
  // nr rows (xr: nr×d row-major, xn: their canonical norms) against the valid columns
  // of np consecutive panels of 16 points (panels: np×d×16 floats, feature-major, 64-byte
  // aligned; cn: np×16 canonical norms; the last panel has last_valid = 1..16 valid
  // lanes, the others 16). With e = sqrt(max(0, fma(-2, dot, |x|² + |c|²))) (fp32, the
  // canonical distance, correctly rounded sqrt):
  //   rowsum[r] += Σ_columns e       (nr fp64)
  //   colsum[c] += Σ_rows e          (np×16 fp64; skipped when colsum is nullptr)
  // SIMD paths keep fp32 partial sums of at most 16 terms per lane before widening to
  // fp64. scratch: np×16 floats, 64-byte aligned. Single-threaded; allocates nothing.
  void (*silhouette_tile)(const float* xr, const float* xn, std::size_t nr, std::size_t d, const float* panels,
                          const float* cn, std::size_t np, unsigned last_valid, double* rowsum, double* colsum,
                          float* scratch);
  // Pass 1 of ScoreAccumulator with given centroids, rows [0, m) of one chunk (x: m×d
  // row-major fp32, sl: m centroid indices in [0, k), < 0 = skip; cent: k×d fp64). For
  // the rows i with s = sl[i] >= 0, with g_i = Σ_j (x_ij − cent_sj)², adds
  //   cnt[s] += #rows,  sum[s*d + j] += Σ x_ij,  sqg[s] += Σ g_i,  dist[s] += Σ sqrt(g_i)
  // (all fp64). The rows are summed in 4 interleaved streams (row i into stream i mod 4,
  // in row order; the streams then added as (0+1)+(2+3)): a hot cluster's sums otherwise
  // form one chain of store-forwarded adds, ~10 cycles a row. g's own summation order is
  // fixed per ISA, so bits may differ between ISAs, never between runs or thread counts.
  // scratch: 4·k·(d+3) doubles. Single-threaded; allocates nothing.
  void (*moments_given)(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const double* cent,
                        std::size_t k, double* cnt, double* sum, double* sqg, double* dist, double* scratch);
};

const ScoreKernelTable& score_kernel_table();          // of active_isa()
const ScoreKernelTable& score_kernel_table(Isa isa);   // throws Error if not supported here

}  // namespace personakit::detail

namespace personakit::scalar { extern const detail::ScoreKernelTable kScoreTable; }
namespace personakit::avx2 { extern const detail::ScoreKernelTable kScoreTable; }
namespace personakit::avx512 { extern const detail::ScoreKernelTable kScoreTable; }
// The moments kernels live in their own files (*/score_moments_*.cpp); the tables
// above take their address.
namespace personakit::scalar {
void moments_given(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const double* cent,
                   std::size_t k, double* cnt, double* sum, double* sqg, double* dist, double* scratch);
}
namespace personakit::avx2 {
void moments_given(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const double* cent,
                   std::size_t k, double* cnt, double* sum, double* sqg, double* dist, double* scratch);
}
namespace personakit::avx512 {
void moments_given(const float* x, std::size_t m, std::size_t d, const std::int32_t* sl, const double* cent,
                   std::size_t k, double* cnt, double* sum, double* sqg, double* dist, double* scratch);
}

// ---- k-means bound kernels (accelerated exact variants) ----
// A third table with the same dispatch (active_isa(), PERSONAKIT_ISA, force_isa).
// Defined in ref/kmeans_ref.cpp, avx2/kmeans_avx2.cpp, avx512/kmeans_avx512.cpp.
namespace personakit::detail {

// Lanes per sub-panel of the group-packed centroids (kmeans/bounds.hpp, GroupPanels).
inline constexpr std::size_t kGroupLanes = 16;

struct Panel16Job {
  std::int32_t sp;        // sub-panel
  std::uint32_t allow;    // lanes that may be evaluated (bit l = lane l)
  float T;                // local-filter threshold: lanes with shift < T are not evaluated
};
struct Panel16Res {
  std::uint32_t mask;     // lanes evaluated
  float pmax;             // largest shift among the filtered lanes, -1 if none
  float m1, m2;           // smallest and second-smallest D over mask
  std::int32_t l1;        // lowest lane holding m1 (-1 if mask is empty)
};

// One job of panel16_rows: a row of the block against the call's sub-panel.
struct Panel16RowJob {
  std::uint32_t row;      // x + row·d, xnorm[row]
  std::uint32_t allow;    // lanes that may be evaluated (bit l = lane l)
  float T;                // local-filter threshold: lanes with shift < T are not evaluated
};

struct KmeansKernelTable {
  Isa isa;
  // Canonical squared distances of ONE row to the listed lanes of m sub-panels.
  //   x: d floats; xn: its canonical norm; panels: sub-panel s at panels + s·d·16,
  //   laid out [j][lane] (16 floats per feature, 64-byte aligned); norms: 16 per
  //   sub-panel (canonical |c|²); which[t]: the t-th sub-panel to evaluate; masks[t]:
  //   its lanes wanted (bit l = lane l).
  //   out[t·16 + l] = max(0, fma(-2, dot, xn + cn)) with dot the fp32 fma chain over
  //   j = 0..d-1 (dot_canonical), for every l in masks[t]; other lanes unspecified.
  // The sub-panels are independent fma chains, interleaved to cover the FMA latency.
  void (*panel16_sqdist)(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                         const std::int32_t* which, const std::uint16_t* masks, std::size_t m, float* out);
  // Canonical squared distance of m listed rows each to its own centroid:
  //   out[t] = sqdist_canonical(x + rows[t]·d, xnorm[rows[t]], c + cent[t]·d, cnorm[cent[t]], d)
  //   x: rows × d row-major; c: centroids k×d row-major; cnorm: their canonical norms.
  // Independent scalar fma chains, several rows interleaved to cover the FMA latency.
  void (*own_sqdist)(const float* x, std::size_t d, const std::uint32_t* rows, std::size_t m, const float* xnorm,
                     const float* c, const float* cnorm, const std::int32_t* cent, float* out);
  // Yinyang's local filter and scan of m sub-panels for ONE row: the definition that
  // panel16_rows (what Yinyang calls) is tested against (same layout as
  // panel16_sqdist; shifts: 16 per sub-panel, fp32 rounded up, pad lanes anything):
  //   filt = {l in job.allow : shifts[sp·16+l] < job.T}, res.mask = job.allow \ filt,
  //   res.pmax = max over filt of the shift (-1 if filt is empty),
  //   for l in res.mask the canonical D_l (as panel16_sqdist); res.m1 = min D_l,
  //   res.l1 = the lowest lane holding m1, res.m2 = min over the other lanes of mask
  //   (+inf / -1 / +inf when mask is empty or has one lane). Comparisons only, so every
  //   ISA returns the same values.
  void (*panel16_scan)(const float* x, float xn, std::size_t d, const float* panels, const float* norms,
                       const float* shifts, const Panel16Job* jobs, std::size_t m, Panel16Res* res);
  // Canonical squared distances of ONE row to m listed centroids (Elkan's and
  // Exponion's survivors): out[t] = sqdist_canonical(x, xn, c + idx[t]·d, cnorm[idx[t]], d)
  // for t < m. c: k×d row-major, cnorm: canonical norms, idx in [0, k), any order.
  void (*list_sqdist)(const float* x, float xn, std::size_t d, const float* c, const float* cnorm,
                      const std::int32_t* idx, std::size_t m, float* out);
  // Elkan's per-row filter over the k lower bounds L (fp32):
  //   if shift: L[j] = (L[j] - pf[j]) - 2^-22 (|L[j]| + pf[j])   (fp32 ops in this order)
  //   cand = the j (ascending) with !(L[j] > thr) && !(gap[j] > T2); returns how many.
  //   cand needs k + 16 slots (SIMD paths store whole vectors).
  std::size_t (*elkan_filter)(float* L, const float* pf, const float* gap, std::size_t k, float thr, float T2,
                              bool shift, std::int32_t* cand);
  // Yinyang's local filter and scan of ONE sub-panel for m rows (the transpose of
  // panel16_scan: the sub-panel's coordinates are loaded once per feature for several
  // rows, each row's coordinate broadcast):
  //   panel: that sub-panel's d×16 floats ([j][lane]); pnorm, shifts: its 16 norms and
  //   shifts; x: rows × d row-major, xnorm their canonical norms;
  //   res[t] = what panel16_scan returns for row x + jobs[t].row·d, xnorm[jobs[t].row]
  //   and the job {sp of this panel, jobs[t].allow, jobs[t].T}.
  void (*panel16_rows)(const float* x, std::size_t d, const float* xnorm, const float* panel, const float* pnorm,
                       const float* shifts, const Panel16RowJob* jobs, std::size_t m, Panel16Res* res);
};

const KmeansKernelTable& kmeans_kernel_table();          // of active_isa()
const KmeansKernelTable& kmeans_kernel_table(Isa isa);   // throws Error if not supported here

}  // namespace personakit::detail

namespace personakit::scalar {
extern const detail::KmeansKernelTable kKmeansTable;
// The reference elkan_filter, shared by the AVX2 table (ref/kmeans_ref.cpp).
std::size_t elkan_filter(float* L, const float* pf, const float* gap, std::size_t k, float thr, float T2, bool shift,
                         std::int32_t* cand);
}
namespace personakit::avx2 { extern const detail::KmeansKernelTable kKmeansTable; }
namespace personakit::avx512 { extern const detail::KmeansKernelTable kKmeansTable; }
