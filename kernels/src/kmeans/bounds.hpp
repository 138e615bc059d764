// Shared machinery of the exact accelerated k-means variants (elkan.cpp,
// hamerly.cpp, yinyang.cpp, exponion.cpp). Not installed.
//
// Exactness contract: every variant must return, at every iteration, the labels
// run_lloyd computes, i.e. for each row the argmin over j of the canonical fp32
// squared distance D(i,j) = sqdist_canonical(x_i, |x_i|², c_j, |c_j|², d), ties to
// the lowest index. The variants keep bounds on the TRUE Euclidean distances
//   δ(i,j) = ||x_i - c_j||  (exact real arithmetic on the fp32 values)
// because only true distances obey the triangle inequality, and convert between
// computed and true distances with the error bound of the canonical formula:
//
//   |D(i,j) - δ(i,j)²| <= e(i,j) <= E_i = κ · (x̂n_i + ĉn_max),
//   κ = (2d + 9) · u / (1 - 4(d+2)u),   u = 2^-24.
//
// Derivation (u = 2^-24, γ_d = du/(1-du), fma dots have error <= γ_d Σ|x_f c_f|):
//   sqnorm(x)  : error <= γ_d |x|²           sqnorm(c): <= γ_d |c|²
//   dot(x,c)   : error <= γ_d |x||c| <= γ_d (|x|²+|c|²)/2, doubled by the -2 factor
//   x̂n + ĉn    : one rounding, <= u (1+γ_d)(|x|²+|c|²)
//   final fma  : one rounding of a value <= (|x|+|c|)²(1+...) <= 2(1+...)(|x|²+|c|²)
//   max(0, ·)  : moves the result towards δ² >= 0, never away.
//   Sum: <= (2d + 3)u (1 + O(du)) (|x|²+|c|²), and |x|² <= x̂n/(1-γ_d); the "+9" and
//   the denominator cover the O(du) terms for any d < 2^20.
//
// A centroid j is pruned for row i only when a lower bound z <= δ(i,j) proves
//   D(i,j) >= z² - E_i > D(i,b) for the current best b (exact D(i,b) known), or
//   D(i,j) >= z² - E_i > u² + E_i >= D(i,b) (only an upper bound u >= δ(i,b) known),
// i.e. j is strictly worse than b and can neither win nor tie. Every other centroid's
// D is computed with the canonical bits and compared with the lowest-index rule, so
// the label is Lloyd's. Bounds are derived from computed D as
//   δ <= sqrt(D + E),   δ >= sqrt(max(0, D - E)),
// and moved by the centroid shifts p_j (true distance between old and new fp32
// centroids, computed in fp64 and inflated by ρ = (d+8)·2^-52 relative). All fp64
// bound arithmetic is rounded outwards by a 2^-49-relative slack on the operands'
// magnitudes, far below E but enough to make the bounds rigorous; bounds stored in
// fp32 are converted with directed rounding.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_table.hpp"
#include "kmeans/internal.hpp"
#include "personakit/assign.hpp"
#include "personakit/isa.hpp"


namespace personakit::detail::accel {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kSlack = 0x1p-49;  // outward rounding of fp64 bound arithmetic

// κ of the header comment.
inline double canonical_kappa(std::size_t d) {
  const double u = 0x1p-24;
  const double dd = static_cast<double>(d);
  return (2.0 * dd + 9.0) * u / (1.0 - 4.0 * (dd + 2.0) * u);
}

// Upper bound on δ from a computed canonical squared distance D (E: row's error bound).
inline double upper_from(float D, double E) {
  return std::sqrt(static_cast<double>(D) + E) * (1.0 + kSlack);
}
// Lower bound on δ from a computed D (0 when D <= E).
inline double lower_from(float D, double E) {
  const double w = static_cast<double>(D) - E;
  if (!(w > 0)) return 0.0;
  return std::sqrt(w * (1.0 - kSlack)) * (1.0 - kSlack);
}
// a + b rounded up (a, b >= 0 or a = +inf).
inline double add_up(double a, double b) { return (a + b) + kSlack * (std::fabs(a) + b); }
// a - b rounded down (b >= 0); may be negative: negative lower bounds stay valid, and are
// never squared (see proves()).
inline double sub_dn(double a, double b) {
  if (std::isinf(a)) return a;
  return (a - b) - kSlack * (std::fabs(a) + b);
}
// Threshold t with z > t  =>  z² > rhs (rhs >= 0), for comparing many z to one rhs.
inline double thr_of(double rhs) { return std::sqrt(rhs) * (1.0 + 0x1p-47); }
// True when a lower bound z on δ(i,j) proves D(i,j) > rhs - E... precisely: z² > rhs,
// with rhs = D_best + E (exact best known) or u² + 2E (upper bound u on the best).
inline bool proves(double z, double rhs) {
  return z > 0 && z * z * (1.0 - kSlack) > rhs * (1.0 + kSlack);
}
// Directed fp64 -> fp32 conversions for stored bounds.
inline float lo32(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) {  // one fp32 step down (f finite or +inf here)
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    if (f > 0.0f) --b;
    else if (f < 0.0f) ++b;
    else b = 0x80000001u;  // below +-0: the negative denormal min
    std::memcpy(&f, &b, 4);
  }
  return f;
}

// ---------------------------------------------------------------------------------
// Exact distances with the canonical bits, through the dispatched k-means kernel table
// (list_sqdist: ref/, avx2/, avx512/kmeans_*.cpp), chosen once per run. Every ISA
// returns sqdist_canonical's bits.
class ExactDist {
 public:
  ExactDist() : kt_(&kmeans_kernel_table()) {}
  // out[t] = D(i, idx[t]) for t < m.
  void list(const float* xi, float xn, const PackedCentroids& pc, const std::int32_t* idx,
            std::size_t m, float* out) const {
    kt_->list_sqdist(xi, xn, pc.d(), pc.rows(), pc.norms(), idx, m, out);
  }
  float one(const float* xi, float xn, const PackedCentroids& pc, std::int32_t j) const {
    float v;
    kt_->list_sqdist(xi, xn, pc.d(), pc.rows(), pc.norms(), &j, 1, &v);
    return v;
  }

 private:
  const KmeansKernelTable* kt_;
};

// Rows per block of the variants' parallel loops (scheduling only: results are per row).
inline constexpr std::size_t kBlockRows = 256;

// Rows rows[0..m) (indices into in.x) copied into xb (m×d) and nb (m norms), so the
// tuned kernels (assign_nearest2, sqdist_rows) can run on them; called inside the
// variants' parallel regions, where those kernels run serially.
inline void gather_rows(const RunInput& in, const std::size_t* rows, std::size_t m, float* xb, float* nb) {
  const std::size_t d = in.d;
  for (std::size_t t = 0; t < m; ++t) {
    std::memcpy(xb + t * d, in.x + rows[t] * d, d * sizeof(float));
    nb[t] = in.xnorm[rows[t]];
  }
}

// Lowest-index tie rule: does candidate (D, j) beat the best (Db, b)?
inline bool better(float D, std::int32_t j, float Db, std::int32_t b) {
  return D < Db || (D == Db && j < b);
}

// ---------------------------------------------------------------------------------
// Centroid geometry shared by the variants.

// Current centroids, packed, with the error-bound constants.
struct Centres {
  std::size_t k = 0, d = 0;
  PackedCentroids pc;
  double kappa = 0;     // κ
  double cnmax = 0;     // max canonical centroid norm (fp32 value)
  double rho = 0;       // relative slack of fp64 geometry, (d+8)·2^-52
  void set(const std::vector<float>& c, std::size_t k_, std::size_t d_) {
    k = k_; d = d_;
    pc.pack(c.data(), k, d);
    kappa = canonical_kappa(d);
    rho = (static_cast<double>(d) + 8.0) * 0x1p-52;
    cnmax = 0;
    for (std::size_t j = 0; j < k; ++j) cnmax = std::max(cnmax, static_cast<double>(pc.norms()[j]));
  }
  // E_i for a row of canonical norm xn.
  double row_error(float xn) const { return kappa * (static_cast<double>(xn) + cnmax) * (1.0 + kSlack); }
};

// Upper bound on ||b - a|| for two d-vectors (fp64, inflated by rho = (d+8)·2^-52).
inline double centroid_shift(const float* a, const float* b, std::size_t d) {
  const double rho = (static_cast<double>(d) + 8.0) * 0x1p-52;
  double s = 0;
  for (std::size_t f = 0; f < d; ++f) {
    const double t = static_cast<double>(b[f]) - static_cast<double>(a[f]);
    s += t * t;
  }
  return s > 0 ? std::sqrt(s) * (1.0 + rho) : 0.0;
}

// Upper bounds on ||new_j - old_j|| (fp64, inflated).
inline void centroid_shifts(const std::vector<float>& oldc, const std::vector<float>& newc,
                            std::size_t k, std::size_t d, std::vector<double>& p) {
  p.assign(k, 0.0);
  for (std::size_t j = 0; j < k; ++j) p[j] = centroid_shift(oldc.data() + j * d, newc.data() + j * d, d);
}

// Lower bound on ||c_a - c_b|| (fp64, deflated), from the row-major centroids.
inline double centre_gap(const float* ca, const float* cb, std::size_t d, double rho) {
  // Differences of two floats are exact in fp64; the squares are summed in four
  // independent chains (latency, not width, bounds a single chain). Any order of
  // summing these non-negative terms errs by less than (d − 1)·2^-53 relative, well
  // inside rho = (d + 8)·2^-52.
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t f = 0;
  for (; f + 4 <= d; f += 4) {
    const double t0 = static_cast<double>(ca[f]) - static_cast<double>(cb[f]);
    const double t1 = static_cast<double>(ca[f + 1]) - static_cast<double>(cb[f + 1]);
    const double t2 = static_cast<double>(ca[f + 2]) - static_cast<double>(cb[f + 2]);
    const double t3 = static_cast<double>(ca[f + 3]) - static_cast<double>(cb[f + 3]);
    s0 += t0 * t0;
    s1 += t1 * t1;
    s2 += t2 * t2;
    s3 += t3 * t3;
  }
  for (; f < d; ++f) {
    const double t = static_cast<double>(ca[f]) - static_cast<double>(cb[f]);
    s0 += t * t;
  }
  return std::sqrt((s0 + s1) + (s2 + s3)) * (1.0 - rho);
}

// Full k×k matrix of deflated inter-centre distances (diagonal 0). OpenMP over rows.
inline void centre_gaps(const Centres& C, std::vector<double>& cc) {
  const std::size_t k = C.k, d = C.d;
  cc.assign(k * k, 0.0);
  const float* r = C.pc.rows();
#pragma omp parallel for schedule(dynamic, 8)
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = a + 1; b < k; ++b) cc[a * k + b] = centre_gap(r + a * d, r + b * d, d, C.rho);
  for (std::size_t a = 0; a < k; ++a)
    for (std::size_t b = 0; b < a; ++b) cc[a * k + b] = cc[b * k + a];
}

// ---------------------------------------------------------------------------------
// The iteration driver shared by the variants (defined in hamerly.cpp). It mirrors
// run_lloyd's loop exactly (lloyd.cpp): iteration t assigns every row to c_t,
// calls on_assignment(t, labels), updates c_{t+1} with update_centroids' exact steps
// (fp64 partials per kChunkRows chunk added in chunk order; empty clusters re-seeded
// from exact distances), reports progress, stops on strict convergence (no label
// changed) or shift <= tol_abs, and after a stop on tol or max_iter assigns once more
// so labels and inertia belong to the returned centroids.
// Exact distances of every row to its own centroid (n evaluations) are computed only
// when a cluster is empty (re-seeding needs them), when a progress callback wants the
// inertia, and once at the end for the inertia.
//
// In memory (run_bounded) a pass assigns all n rows in one assign_rows call (the
// variants' 256-row blocks in parallel), then update_centroids sweeps the rows.
// Streamed (run_bounded_streamed) a pass reads the rows chunk by chunk (stream_chunks,
// chunked.hpp), assigns each chunk with assign_rows on that thread and accumulates the
// chunk's update partial while its rows are in cache; labels and bounds stay in memory.
// Rows are assigned independently (a row's label and bounds depend only on its own
// bounds and on the pass's tables), so either way gives the same labels and bits.

// Counts of one pass, summed over its assign_rows calls (integers: the totals do not
// depend on how the rows were split).
struct AssignCounts {
  std::uint64_t changes = 0;  // rows whose label changed
  std::uint64_t evals = 0;    // distances computed
  std::uint64_t tried = 0, settled = 0;  // Hamerly's tightening statistics
  void add(const AssignCounts& o) {
    changes += o.changes;
    evals += o.evals;
    tried += o.tried;
    settled += o.settled;
  }
};

class AlgoBase {
 public:
  virtual ~AlgoBase() = default;
  // Allocate the bounds for in.n rows (of in.d features) and k centroids.
  virtual void prepare(const RunInput& in, std::size_t k) = 0;
  virtual std::size_t state_bytes() const = 0;
  // A pass assigning every row to the centroids C: per-pass tables (centre gaps,
  // shifts). first: no valid bounds yet.
  virtual void begin_pass(const Centres& C, bool first) = 0;
  // Lloyd's labels for the rows [row0, row0 + rows.n): rows is a view whose x, xnorm
  // (and weights) start at row row0; labels[0..rows.n) are those rows' labels, updated
  // in place; the bounds are indexed by row0 + i. Adds to cnt. Calls on disjoint row
  // ranges may run concurrently (inside a parallel region the loops run serially).
  virtual void assign_rows(const RunInput& rows, std::size_t row0, const Centres& C, std::int32_t* labels,
                           AssignCounts& cnt) = 0;
  // The pass is over; total: its counts.
  virtual void end_pass(const AssignCounts& /*total*/) {}
  // The centroids moved by at most p[j] since the last pass (applied lazily).
  virtual void moved(const std::vector<double>& p) = 0;
  // These rows' labels were changed outside assign_rows (empty-cluster re-seeding).
  virtual void reset_rows(const std::vector<std::size_t>& rows) = 0;
};

RunOutput run_bounded(const RunInput& in, std::vector<float> centroids, AlgoBase& algo);
// The same run with the rows read from src, one pass per iteration (in.x unused; in.n,
// in.d, in.weights as in memory): the same centroids, labels, inertia and iterations,
// bit for bit.
RunOutput run_bounded_streamed(RowSource& src, const RunInput& in, std::vector<float> centroids, AlgoBase& algo);

// Yinyang's number of centroid groups: t = max(1, k/10).
inline std::size_t yinyang_groups(std::size_t k) { return std::max<std::size_t>(1, k / 10); }
// Yinyang's window of past centroids (yinyang.cpp): W, a power of two in [2, 32], the
// largest with W·k·d <= 2^22 floats (16 MiB of history). PERSONAKIT_YINYANG_WINDOW=W
// (2, 4, 8, 16 or 32) caps it (the tests use it: bounds leaving small windows).
inline std::size_t yinyang_window(std::size_t k, std::size_t d) {
  std::size_t w = 32;
  if (const char* e = std::getenv("PERSONAKIT_YINYANG_WINDOW")) {
    const long v = std::strtol(e, nullptr, 10);
    for (std::size_t c = 2; c <= 32; c *= 2)
      if (static_cast<long>(c) == v) w = c;
  }
  while (w > 2 && w * k * d > (std::size_t{1} << 22)) w /= 2;
  return w;
}

}  // namespace personakit::detail::accel
