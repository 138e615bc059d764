// Hamerly (2010), exact: one upper bound u_i >= δ(x_i, c_{a_i}) and one lower bound
// l_i <= min_{j != a_i} δ(x_i, c_j) per row; s_a = min_{j != a} ||c_a - c_j||.
// A row keeps its label when max(l_i, s_a - u_i) proves every other centroid strictly
// worse (bounds.hpp), first with the loose u, then with the exact D(i, a) (computed for
// the rows of a 256-row block that need it by the dispatched own_sqdist, eight fma
// chains at a time); otherwise all k distances are computed. Also holds the driver
// shared by the four variants, in memory (the update is update_centroids with a
// workspace kept across iterations) and streamed from a RowSource (one pass per
// iteration, the update's chunk partials made in the same pass; bounds.hpp).
#include <algorithm>
#include <cmath>

#include "kernel_table.hpp"
#include "kmeans/bounds.hpp"
#include "kmeans/chunked.hpp"
#include "personakit/error.hpp"

namespace personakit::detail {
namespace accel {

namespace {

// True when some cluster has no row of positive weight (update_centroids will re-seed).
bool has_empty_cluster(const std::int32_t* labels, const float* w, std::size_t n, std::size_t k) {
  std::vector<char> has(k, 0);
  std::size_t seen = 0;
  for (std::size_t i = 0; i < n && seen < k; ++i) {
    if (w && !(w[i] > 0)) continue;
    char& h = has[static_cast<std::size_t>(labels[i])];
    if (!h) { h = 1; ++seen; }
  }
  return seen < k;
}

// dist[i] = D(i, labels[i]) for the n rows of x: n evaluations, by 256-row blocks with
// the dispatched own_sqdist (independent fma chains interleaved; canonical bits, so a
// row's value does not depend on the block it is in). OpenMP over blocks (serial
// inside a parallel region).
void exact_dist(const float* x, const float* xnorm, std::size_t n, std::size_t d, const Centres& C,
                const std::int32_t* labels, float* dist) {
  const KmeansKernelTable& kt = kmeans_kernel_table();
  const std::size_t B = kBlockRows, nblocks = (n + B - 1) / B;
  std::uint32_t iota[kBlockRows];
  for (std::size_t r = 0; r < B; ++r) iota[r] = static_cast<std::uint32_t>(r);
#pragma omp parallel for schedule(static)
  for (std::size_t blk = 0; blk < nblocks; ++blk) {
    const std::size_t r0 = blk * B, m = std::min(B, n - r0);
    kt.own_sqdist(x + r0 * d, d, iota, m, xnorm + r0, C.pc.rows(), C.pc.norms(), labels + r0, dist + r0);
  }
}

// Streamed state besides the bounds: labels and the update's chunk partials in flight.
std::size_t streamed_common_bytes(std::size_t n, std::size_t k, std::size_t d, std::size_t memory_limit) {
  return 4 * n + ChunkReducer::group_for(k, d, stream_budget(memory_limit)) * ChunkReducer::bytes_per_chunk(k, d);
}

// One pass of the bounded loop and the update, in memory or streamed.
class BoundedOps {
 public:
  virtual ~BoundedOps() = default;
  // Assign every row to C (first: no bounds yet); returns the number of labels changed.
  // want_inertia: the exact inertia of this assignment will be asked for by update().
  virtual std::uint64_t assign(const Centres& C, bool first, bool want_inertia) = 0;
  // c_{t+1} into next from the last assignment to C = c: update_centroids' steps (empty
  // clusters re-seeded, the moved rows' bounds reset); returns the squared shift. Sets
  // *inertia to the assignment's exact inertia when want_inertia or a cluster was empty.
  virtual double update(const Centres& C, const std::vector<float>& c, std::vector<float>& next,
                        bool want_inertia, double* inertia) = 0;
  // After the loop: assign to C again when reassign, then the labels' exact inertia.
  virtual double finish(const Centres& C, bool reassign, bool first) = 0;
  std::vector<std::int32_t> labels;
  std::uint64_t evals = 0;  // distances computed
};

RunOutput bounded_loop(BoundedOps& ops, const RunInput& in, std::vector<float> c, AlgoBase& algo) {
  const std::size_t d = in.d, k = c.size() / d;
  const KMeansParams* P = in.params;
  const int max_iter = P ? P->max_iter : 300;
  const bool want_progress = P && static_cast<bool>(P->progress);
  const bool want_inertia = want_progress && P->progress_inertia;
  RunOutput out;
  Centres C;
  std::vector<float> next;
  std::vector<double> p;
  bool have_bounds = false, consistent = false;
  double inertia = 0;
  for (int it = 1; it <= max_iter; ++it) {
    C.set(c, k, d);
    const std::uint64_t changed = ops.assign(C, !have_bounds, want_inertia);
    have_bounds = true;
    if (P && P->on_assignment) P->on_assignment(it, ops.labels.data());
    const double shift = ops.update(C, c, next, want_inertia, &inertia);
    out.iterations = it;
    report_progress(in, it, want_inertia ? inertia : std::numeric_limits<double>::quiet_NaN(), shift);
    centroid_shifts(c, next, k, d, p);
    algo.moved(p);
    if (changed == 0) {
      out.converged = true;
      consistent = next == c;
      c.swap(next);
      break;
    }
    c.swap(next);
    if (in.tol_abs > 0 && shift <= in.tol_abs) {
      out.converged = true;
      break;
    }
  }
  C.set(c, k, d);
  out.inertia = ops.finish(C, !consistent, !have_bounds);
  out.distance_evaluations = ops.evals;
  out.sizes.assign(k, 0);
  for (const std::int32_t l : ops.labels) ++out.sizes[static_cast<std::size_t>(l)];
  out.centroids = std::move(c);
  out.labels = std::move(ops.labels);
  return out;
}

// In memory: one assign_rows call over all rows (the variants' blocks in parallel),
// then update_centroids with a workspace kept across iterations.
class MemoryBounded final : public BoundedOps {
 public:
  MemoryBounded(const RunInput& in, AlgoBase& algo, std::size_t k) : in_(in), algo_(algo), k_(k), update_(k, in.d) {
    assign_huge(labels, in.n, std::int32_t{-1});
    assign_huge(dist_, in.n, 0.0f);
  }
  std::uint64_t assign(const Centres& C, bool first, bool) override {
    AssignCounts cnt;
    algo_.begin_pass(C, first);
    algo_.assign_rows(in_, 0, C, labels.data(), cnt);
    algo_.end_pass(cnt);
    evals += cnt.evals;
    return cnt.changes;
  }
  double update(const Centres& C, const std::vector<float>& c, std::vector<float>& next, bool want_inertia,
                double* inertia) override {
    const std::size_t n = in_.n, d = in_.d;
    const bool empty = has_empty_cluster(labels.data(), in_.weights, n, k_);
    if (empty || want_inertia) {
      exact_dist(in_.x, in_.xnorm, n, d, C, labels.data(), dist_.data());
      evals += n;
      *inertia = inertia_from_dist(dist_.data(), in_.weights, n);
    }
    std::vector<std::int32_t> before;
    if (empty) before = labels;
    double shift = 0;
    update_centroids(update_, in_.x, n, d, in_.weights, labels.data(), dist_.data(), k_, c, next, nullptr, &shift);
    if (empty) {
      std::vector<std::size_t> rows;
      for (std::size_t i = 0; i < n; ++i)
        if (labels[i] != before[i]) rows.push_back(i);
      algo_.reset_rows(rows);
    }
    return shift;
  }
  double finish(const Centres& C, bool reassign, bool first) override {
    if (reassign) assign(C, first, false);
    exact_dist(in_.x, in_.xnorm, in_.n, in_.d, C, labels.data(), dist_.data());
    evals += in_.n;
    return inertia_from_dist(dist_.data(), in_.weights, in_.n);
  }

 private:
  const RunInput& in_;
  AlgoBase& algo_;
  std::size_t k_;
  UpdateWorkspace update_;
  std::vector<float> dist_;
};

// Streamed: each pass reads the rows chunk by chunk (stream_chunks); a chunk's norms
// (row_norms: the bits of the in-memory fit's) go into its partial's scratch, its rows
// are assigned by assign_rows on the thread that read them, and its update partial
// (accumulate_sums, count_sizes: update_centroids' per-chunk steps) is made while the
// rows are in cache. The partials are added in chunk order, as update_centroids adds
// them, so the totals are the in-memory ones. Only labels and bounds stay in memory;
// the exact distances that re-seeding, progress and the final inertia need are
// recomputed per chunk (own_sqdist, the same bits as exact_dist).
class StreamBounded final : public BoundedOps {
 public:
  StreamBounded(RowSource& src, const RunInput& in, AlgoBase& algo, std::size_t k)
      : src_(src), in_(in), algo_(algo), k_(k), budget_(stream_budget(in.params ? in.params->memory_limit : 0)),
        t_(k, in.d), red_(k, in.d, true, budget_), cnt_((in.n + kChunkRows - 1) / kChunkRows) {
    assign_huge(labels, in.n, std::int32_t{-1});
  }
  std::uint64_t assign(const Centres& C, bool first, bool want_inertia) override {
    const std::size_t d = in_.d;
    algo_.begin_pass(C, first);
    t_.clear();
    stream_chunks(src_, in_.n, d, red_, t_, [&](const float* xc, std::size_t g0, std::size_t m, ChunkPartial& p) {
      const RunInput v = view(xc, g0, m, p);
      std::int32_t* lab = labels.data() + g0;
      AssignCounts& cnt = cnt_[g0 / kChunkRows];
      cnt = AssignCounts{};
      algo_.assign_rows(v, g0, C, lab, cnt);
      accumulate_sums(xc, m, d, lab, v.weights, p.sums.data(), p.wsum.data());
      count_sizes(lab, m, p.sizes.data());
      if (want_inertia) {
        exact_dist(xc, v.xnorm, m, d, C, lab, p.dist.data());
        cnt.evals += m;
        p.inertia = chunk_inertia(p.dist.data(), v.weights, m);
      }
    }, [](std::size_t, const ChunkPartial&) {});
    return close_pass(true);
  }
  double update(const Centres& C, const std::vector<float>& c, std::vector<float>& next, bool want_inertia,
                double* inertia) override {
    if (want_inertia) *inertia = t_.inertia;
    const auto empty = empty_clusters(t_);
    if (!empty.empty()) {
      *inertia = reseed(C, empty);
    }
    return finalize_centroids(t_, c, next);
  }
  double finish(const Centres& C, bool reassign, bool first) override {
    const std::size_t d = in_.d;
    Totals t(0, 0);
    ChunkReducer red(k_, d, false, budget_);
    if (reassign) algo_.begin_pass(C, first);
    stream_chunks(src_, in_.n, d, red, t, [&](const float* xc, std::size_t g0, std::size_t m, ChunkPartial& p) {
      const RunInput v = view(xc, g0, m, p);
      std::int32_t* lab = labels.data() + g0;
      AssignCounts& cnt = cnt_[g0 / kChunkRows];
      cnt = AssignCounts{};
      if (reassign) algo_.assign_rows(v, g0, C, lab, cnt);
      exact_dist(xc, v.xnorm, m, d, C, lab, p.dist.data());
      cnt.evals += m;
      p.inertia = chunk_inertia(p.dist.data(), v.weights, m);
    }, [](std::size_t, const ChunkPartial&) {});
    close_pass(reassign);
    return t.inertia;
  }

 private:
  // The pass's per-chunk counts, added in chunk order; the variant's end_pass when it
  // assigned in this pass. Returns the label changes.
  std::uint64_t close_pass(bool assigned) {
    AssignCounts total;
    for (const AssignCounts& c : cnt_) total.add(c);
    if (assigned) algo_.end_pass(total);
    evals += total.evals;
    return total.changes;
  }

  // The chunk's rows as a RunInput (norms computed into the partial's scratch).
  RunInput view(const float* xc, std::size_t g0, std::size_t m, ChunkPartial& p) const {
    row_norms(xc, m, in_.d, p.norms.data());
    RunInput v = in_;
    v.x = xc;
    v.n = m;
    v.xnorm = p.norms.data();
    v.weights = in_.weights ? in_.weights + g0 : nullptr;
    return v;
  }
  // Extra pass when a cluster is empty: the exact distances of the last assignment
  // (to C), the empty + k farthest rows of positive weight by far_before (the
  // candidates reseed_in_memory takes), their rows read back with read_rows, then
  // apply_reseed as update_centroids does. Returns the assignment's inertia.
  double reseed(const Centres& C, const std::vector<std::size_t>& empty) {
    const std::size_t d = in_.d, need = reseed_candidates_needed(empty.size(), k_);
    const float* w = in_.weights;
    std::vector<FarRow> cand;
    Totals t(0, 0);
    ChunkReducer red(k_, d, false, budget_);
    stream_chunks(src_, in_.n, d, red, t, [&](const float* xc, std::size_t g0, std::size_t m, ChunkPartial& p) {
      const RunInput v = view(xc, g0, m, p);
      exact_dist(xc, v.xnorm, m, d, C, labels.data() + g0, p.dist.data());
      p.inertia = chunk_inertia(p.dist.data(), v.weights, m);
    }, [&](std::size_t c, const ChunkPartial& p) {
      const std::size_t g0 = c * kChunkRows, m = std::min(kChunkRows, in_.n - g0);
      for (std::size_t i = 0; i < m; ++i) {
        const std::uint64_t row = g0 + i;
        if (w && !(w[row] > 0)) continue;
        const FarRow f{p.dist[i], row};
        if (cand.size() == need && !far_before(f, cand.back())) continue;
        cand.insert(std::upper_bound(cand.begin(), cand.end(), f, far_before), f);
        if (cand.size() > need) cand.pop_back();
      }
    });
    evals += in_.n;
    // The candidates' rows, read in ascending row order, then put in candidate order.
    std::vector<std::uint64_t> idx(cand.size());
    for (std::size_t q = 0; q < cand.size(); ++q) idx[q] = cand[q].row;
    std::sort(idx.begin(), idx.end());
    std::vector<float> rows(idx.size() * d), cx(cand.size() * d);
    if (!idx.empty()) src_.read_rows(idx.data(), idx.size(), rows.data());
    std::vector<std::int32_t> cl(cand.size());
    std::vector<float> cw(cand.size());
    for (std::size_t q = 0; q < cand.size(); ++q) {
      const std::size_t at = static_cast<std::size_t>(std::lower_bound(idx.begin(), idx.end(), cand[q].row) - idx.begin());
      std::memcpy(&cx[q * d], &rows[at * d], d * sizeof(float));
      cl[q] = labels[cand[q].row];
      cw[q] = w ? w[cand[q].row] : 1.0f;
    }
    const auto moves = apply_reseed(t_, empty, cand, cx.data(), cl.data(), cw.data());
    std::vector<std::size_t> moved;
    for (const auto& mv : moves) {
      labels[mv.row] = mv.to;
      moved.push_back(static_cast<std::size_t>(mv.row));
    }
    algo_.reset_rows(moved);
    return t.inertia;
  }

  RowSource& src_;
  const RunInput& in_;
  AlgoBase& algo_;
  std::size_t k_, budget_;
  Totals t_;
  ChunkReducer red_;
  std::vector<AssignCounts> cnt_;  // per chunk, for the pass in progress
};

}  // namespace

RunOutput run_bounded(const RunInput& in0, std::vector<float> c, AlgoBase& algo) {
  if (in0.d == 0 || c.empty() || c.size() % in0.d != 0)
    throw Error("accelerated k-means: centroids do not match the data's dimension");
  const std::size_t n = in0.n, d = in0.d, k = c.size() / d;
  RunInput in = in0;
  std::vector<float> own_norms;
  if (!in.xnorm) {
    own_norms.resize(n);
    row_norms(in.x, n, d, own_norms.data());
    in.xnorm = own_norms.data();
  }
  algo.prepare(in, k);
  MemoryBounded ops(in, algo, k);
  RunOutput out = bounded_loop(ops, in, std::move(c), algo);
  // Lloyd's own state (labels, distances, norms, update partials) plus the bounds.
  out.state_bytes = algorithm_state_bytes(Algorithm::lloyd, n, k, d) + algo.state_bytes();
  return out;
}

RunOutput run_bounded_streamed(RowSource& src, const RunInput& in, std::vector<float> c, AlgoBase& algo) {
  if (in.d == 0 || c.empty() || c.size() % in.d != 0)
    throw Error("accelerated k-means: centroids do not match the data's dimension");
  const std::size_t k = c.size() / in.d;
  algo.prepare(in, k);
  StreamBounded ops(src, in, algo, k);
  RunOutput out = bounded_loop(ops, in, std::move(c), algo);
  out.state_bytes = streamed_common_bytes(in.n, k, in.d, in.params ? in.params->memory_limit : 0) + algo.state_bytes();
  return out;
}

// ---------------------------------------------------------------------------------
namespace {

class Hamerly final : public AlgoBase {
 public:
  void prepare(const RunInput& in, std::size_t k) override {
    n_ = in.n; k_ = k;
    tighten_ = true;
    passes_ = 0;
    assign_huge(u_, n_, kInf);
    assign_huge(l_, n_, 0.0f);
  }
  std::size_t state_bytes() const override { return accel_state_bytes(Algorithm::hamerly, n_, k_, 0); }
  void moved(const std::vector<double>& p) override { p_ = p; pending_ = true; }
  void reset_rows(const std::vector<std::size_t>& rows) override {
    for (const std::size_t i : rows) { u_[i] = kInf; l_[i] = 0.0f; }
  }

  void begin_pass(const Centres& C, bool first) override {
    const std::size_t k = k_;
    first_ = first;
    // s_a: half of Hamerly's s; here the full gap, used as δ(x, c_j) >= s_a - u.
    // From the symmetric gap matrix (each pair once).
    s_.assign(k, kInf);
    centre_gaps(C, cc_);
    for (std::size_t a = 0; a < k; ++a) {
      const double* row = cc_.data() + a * k;
      double m = kInf;
      for (std::size_t b = 0; b < k; ++b)
        if (b != a) m = std::min(m, row[b]);
      s_[a] = m;
    }
    // Largest and second-largest shift, for max_{j != a} p_j.
    p1_ = 0; p2_ = 0;
    j1_ = k;
    shift_ = pending_ && !first;
    if (shift_) {
      for (std::size_t j = 0; j < k; ++j) {
        if (p_[j] > p1_) { p2_ = p1_; p1_ = p_[j]; j1_ = j; }
        else if (p_[j] > p2_) p2_ = p_[j];
      }
    }
    pending_ = false;
    // Tightening (D(i, a) exactly, then the test again) only pays while it settles a
    // fair share of the rows that fail the loose test. When it settled < 5 % of them,
    // the next passes send those rows straight to the full scan (the scan sets u and l
    // afresh, so results do not change), probing again every 8th pass.
    tighten_now_ = tighten_ || (++passes_ % 8 == 0);
    kt_ = &kmeans_kernel_table();  // dispatch once per pass
  }
  void end_pass(const AssignCounts& total) override {
    if (tighten_now_ && total.tried > 0) tighten_ = total.settled * 20 >= total.tried;
  }

  void assign_rows(const RunInput& in, std::size_t row0, const Centres& C, std::int32_t* labels,
                   AssignCounts& cnt) override {
    const std::size_t k = k_, d = in.d, n = in.n;
    const bool first = first_, shift = shift_, tighten = tighten_now_;
    const double p1 = p1_, p2 = p2_;
    const std::size_t j1 = j1_;
    const double* s = s_.data();
    double* U = u_.data() + row0;  // this range's bounds, by local row
    float* Lo = l_.data() + row0;
    const KmeansKernelTable& kt = *kt_;
    std::uint64_t ev = 0, changes = 0, tried = 0, settled = 0;
    const std::size_t B = kBlockRows, nblocks = (n + B - 1) / B;
#pragma omp parallel reduction(+ : ev, changes, tried, settled)
    {
      std::vector<std::size_t> scan;
      scan.reserve(B);
      std::vector<float> xb(B * d), nb(B), D1(B), D2(B);
      std::vector<std::int32_t> l1(B), l2(B);
      std::vector<std::uint32_t> need(B);
      std::vector<std::int32_t> needc(B);
      std::vector<float> needD(B);
      std::vector<double> needl(B);
#pragma omp for schedule(dynamic, 1)
      for (std::size_t blk = 0; blk < nblocks; ++blk) {
        const std::size_t r0 = blk * B, r1 = std::min(n, r0 + B);
        scan.clear();
        // Phase 1: the test with the loose bound u; the rows it cannot settle get their
        // exact D(i, a) in phase 2 (eight independent fma chains at a time, own_sqdist)
        // and are tested again in phase 3; the rest go to the full scan.
        std::size_t nneed = 0;
        for (std::size_t i = r0; i < r1; ++i) {
          if (first) { scan.push_back(i); continue; }
          const double E = C.row_error(in.xnorm[i]);
          const std::size_t a = static_cast<std::size_t>(labels[i]);
          double u = U[i], l = Lo[i];
          if (shift) {
            u = add_up(u, p_[a]);
            l = sub_dn(l, a == j1 ? p2 : p1);
          }
          const double z = std::max(l, sub_dn(s[a], u));
          if (u < kInf && proves(z, u * u + 2 * E)) { U[i] = u; Lo[i] = lo32(l); continue; }
          if (!tighten) { scan.push_back(i); continue; }
          need[nneed] = static_cast<std::uint32_t>(i - r0);  // block-relative
          needc[nneed] = labels[i];
          needl[nneed] = l;
          ++nneed;
        }
        if (nneed > 0) {
          kt.own_sqdist(in.x + r0 * d, d, need.data(), nneed, in.xnorm + r0, C.pc.rows(), C.pc.norms(),
                        needc.data(), needD.data());
          ev += nneed;
        }
        for (std::size_t r = 0; r < nneed; ++r) {
          const std::size_t i = r0 + need[r];
          const double E = C.row_error(in.xnorm[i]);
          const std::size_t a = static_cast<std::size_t>(needc[r]);
          const float Da = needD[r];
          const double l = needl[r];
          const double u = upper_from(Da, E);
          const double z = std::max(l, sub_dn(s[a], u));
          if (proves(z, static_cast<double>(Da) + E)) { U[i] = u; Lo[i] = lo32(l); ++settled; continue; }
          scan.push_back(i);
        }
        tried += nneed;
        // Full scans with the tuned kernel: Lloyd's argmin (lowest index on ties) and
        // the second smallest D (assign_nearest2 gives the same bits as assign_nearest).
        const std::size_t m = scan.size();
        if (m == 0) continue;
        const float* xs = in.x + r0 * d;
        const float* ns = in.xnorm + r0;
        if (!first) {
          gather_rows(in, scan.data(), m, xb.data(), nb.data());
          xs = xb.data();
          ns = nb.data();
        }
        assign_nearest2(xs, m, d, ns, C.pc, l1.data(), D1.data(), l2.data(), D2.data());
        ev += static_cast<std::uint64_t>(m) * k;
        for (std::size_t t = 0; t < m; ++t) {
          const std::size_t i = scan[t];
          const double E = C.row_error(in.xnorm[i]);
          changes += (l1[t] != labels[i]);
          labels[i] = l1[t];
          U[i] = upper_from(D1[t], E);
          Lo[i] = k > 1 ? lo32(lower_from(D2[t], E)) : std::numeric_limits<float>::infinity();
        }
      }
    }
    cnt.evals += ev;
    cnt.changes += changes;
    cnt.tried += tried;
    cnt.settled += settled;
  }

 private:
  std::size_t n_ = 0, k_ = 0;
  bool tighten_ = true;
  std::uint64_t passes_ = 0;
  std::vector<double> u_;
  std::vector<float> l_;
  std::vector<double> p_, cc_;
  bool pending_ = false;
  // The pass in progress (begin_pass); read-only while rows are assigned.
  bool first_ = true, shift_ = false, tighten_now_ = true;
  std::vector<double> s_;
  double p1_ = 0, p2_ = 0;
  std::size_t j1_ = 0;
  const KmeansKernelTable* kt_ = nullptr;
};

}  // namespace
}  // namespace accel

std::size_t accel_state_bytes(Algorithm a, std::size_t n, std::size_t k, std::size_t d) {
  switch (a) {
    case Algorithm::hamerly: return n * (8 + 4) + k * 16;                 // u fp64, l fp32; s, p
    case Algorithm::elkan: return n * k * 4 + n * 8 + k * k * 8 + k * 16;  // l n×k fp32, u, gaps
    case Algorithm::yinyang: {
      // Per row: t fp32 bounds with their uint16 stamps, u fp64; per window slot: the
      // centroids (k·d fp32) and each group's largest displacement (t fp32).
      const std::size_t t = accel::yinyang_groups(k), w = accel::yinyang_window(k, d);
      return n * t * 6 + n * 8 + k * 24 + w * 4 * (k * d + t);
    }
    case Algorithm::exponion: return n * (8 + 4) + k * (k ? k - 1 : 0) * 12 + k * 16;
    default: return 0;
  }
}

std::size_t streamed_accel_state_bytes(Algorithm a, std::size_t n, std::size_t k, std::size_t d,
                                       std::size_t memory_limit) {
  return accel::streamed_common_bytes(n, k, d, memory_limit) + accel_state_bytes(a, n, k, d);
}

RunOutput run_hamerly(const RunInput& in, std::vector<float> centroids, RowSource* src) {
  accel::Hamerly h;
  return src ? accel::run_bounded_streamed(*src, in, std::move(centroids), h)
             : accel::run_bounded(in, std::move(centroids), h);
}

}  // namespace personakit::detail
