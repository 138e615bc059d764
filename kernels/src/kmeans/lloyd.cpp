// Exact Lloyd, in memory and streamed: one fused pass per iteration (assign a chunk,
// then accumulate that chunk's fp64 partial while its rows are hot in cache).
//
// Iteration t: assign every row to c_t (labels, distances, inertia of c_t), update
// c_{t+1} = weighted means (empty clusters re-seeded), report progress, then stop on
// strict convergence (no label changed) or when sum ||c_{t+1} - c_t||^2 <= tol_abs.
// After a stop on tol or max_iter, one more assignment pass makes labels and inertia
// those of the returned centroids (as scikit-learn's final E-step).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kmeans/chunked.hpp"
#include "kmeans/bounds.hpp"
#include "kmeans/screen.hpp"
#include "kernel_table.hpp"
#include "personakit/error.hpp"

namespace personakit::detail {
namespace {

// One exact pass over the data, in memory or streamed.
class PassOps {
 public:
  virtual ~PassOps() = default;
  // Assign every row to pc; fill t (sums, wsum, sizes, inertia, changes). Returns
  // whether any label changed since the previous pass (true on the first pass).
  // need_dist = false allows a pass to leave the distances (and t.inertia) for later.
  virtual bool pass(const PackedCentroids& pc, Totals& t, bool need_dist) = 0;
  // The distances and t.inertia of the last pass's labels to pc, if that pass left them.
  virtual void complete(const PackedCentroids& /*pc*/, Totals& /*t*/) {}
  // Re-seed t's empty clusters from the distances to pc (the last pass's centroids).
  virtual void reseed(const PackedCentroids& pc, Totals& t) = 0;
  virtual void assigned(int /*iteration*/) {}
};

RunOutput lloyd_loop(PassOps& ops, const RunInput& in, std::vector<float> c, int max_iter,
                     std::size_t n) {
  const std::size_t d = in.d, k = c.size() / d;
  RunOutput out;
  Totals t(k, d);
  PackedCentroids pc;
  std::vector<float> next;
  std::vector<std::int64_t> sizes;
  bool consistent = false;
  double inertia = 0;
  // Only screened Lloyd makes use of this: its passes need not compute the distances
  // of the rows its screen decides unless progress prints the inertia.
  const bool want = in.params && in.params->progress && in.params->progress_inertia;
  for (int it = 1; it <= max_iter; ++it) {
    pc.pack(c.data(), k, d);
    t.clear();
    const bool changed = ops.pass(pc, t, want);
    out.distance_evaluations += static_cast<std::uint64_t>(n) * k;
    ops.assigned(it);
    const bool empty = !empty_clusters(t).empty();
    if (empty) ops.complete(pc, t);  // the re-seed needs every row's distance
    inertia = t.inertia;
    sizes = t.sizes;
    if (empty) ops.reseed(pc, t);
    const double shift = finalize_centroids(t, c, next);
    out.iterations = it;
    report_progress(in, it, inertia, shift);
    if (!changed) {
      // Same labels as the previous pass, so next == c unless a re-seed intervened.
      out.converged = true;
      consistent = next == c;
      if (consistent) {
        ops.complete(pc, t);
        inertia = t.inertia;
      }
      c.swap(next);
      break;
    }
    c.swap(next);
    if (in.tol_abs > 0 && shift <= in.tol_abs) {
      out.converged = true;
      break;
    }
  }
  if (!consistent) {
    pc.pack(c.data(), k, d);
    t.clear();
    ops.pass(pc, t, true);
    out.distance_evaluations += static_cast<std::uint64_t>(n) * k;
    inertia = t.inertia;
    sizes = t.sizes;
  }
  out.centroids = std::move(c);
  out.inertia = inertia;
  out.sizes = std::move(sizes);
  return out;
}

using accel::add_up;
using accel::canonical_kappa;
using accel::centroid_shifts;
using accel::kInf;
using accel::kSlack;
using accel::lower_from;
using accel::proves;
using accel::sub_dn;
using accel::upper_from;

class MemoryOps final : public PassOps {
 public:
  // screen: screened Lloyd (kmeans/screen.hpp), where the ISA has a screen kernel and
  // the data's magnitudes allow it; otherwise (and always for plain Lloyd) exact passes.
  MemoryOps(const RunInput& in, std::size_t k, bool screen = false) : in_(in), k_(k), red_(k, in.d) {
    assign_huge(labels_, in.n, std::int32_t{-1});
    assign_huge(dist_, in.n, 0.0f);
    // Kept chunk partials (update_chunk): when every chunk's partial fits the reducer's
    // usual budget of partials in flight, so the state stays what algorithm_state_bytes
    // reports.
    const std::size_t nchunks = (in.n + kChunkRows - 1) / kChunkRows;
    if (nchunks <= ChunkReducer::group_for(k, in.d, std::size_t{64} << 20)) red_.keep_partials(nchunks);
    // Below d = 32 a screened pass never beat Lloyd's in the measurements (docs/
    // accelerated.md, "Screened Lloyd"): the per-row work that does not shrink with the
    // bf16 rate (conversion, threshold, open rows) outweighs the halved dot products.
    // PERSONAKIT_SCREEN_ANY_D=1 screens at any d and skips the probe (pass()): the tests
    // use it to drive the screen through low-d ties and data it does not suit.
    const char* any = std::getenv("PERSONAKIT_SCREEN_ANY_D");
    const std::size_t min_d = any && any[0] == '1' ? 1 : 32;
    probe_ = min_d > 1;
    if (screen && in.xnorm && in.d >= min_d) {
      fn_ = screen_kernels(active_isa());
      if (fn_) {
        rows_.prepare(in.x, in.n, in.d);
        if (!rows_.ok) fn_ = nullptr;
      }
      if (fn_) {
        assign_huge(ub_, in.n, kInf);
        assign_huge(lb_, in.n, 0.0);
        kappa_ = canonical_kappa(in.d);
      }
    }
  }
  bool pass(const PackedCentroids& pc, Totals& t, bool need_dist) override {
    const float* x = in_.x;
    const float* w = in_.weights;
    const std::size_t d = in_.d;
    // Screen this pass? Not while backing off (the last screened pass left too many rows
    // open to pay), nor when the centroids' magnitudes rule the bound out.
    bool scr = false;
    if (fn_) {
      if (backoff_ > 0) --backoff_;
      else {
        cents_.prepare(pc.rows(), k_, rows_);
        scr = cents_.ok;
        // A pass that starts screening afresh (the first, or after a back-off or a
        // re-seed) first screens a probe of rows spread over the data: when it leaves
        // more than a quarter of them open, the pass runs exact and backs off at once,
        // instead of screening every row to find out (a failed screened pass cost about
        // two exact ones).
        if (scr && probe_ && !bounds_ok_ && !probe_passes()) {
          scr = false;
          backoff_ = next_backoff_;
          next_backoff_ *= 2;
        }
      }
    }
    if (scr) begin_bounds(pc);
    else bounds_ok_ = false;
    std::uint64_t open = 0, listed = 0, screened = 0, mover_rows = 0;
    red_.run(in_.n, t, [&](std::size_t, std::size_t r0, std::size_t m, ChunkPartial& p) {
      // Inside a parallel region the dispatched kernel runs serially on this chunk.
      if (scr) {
        std::uint64_t l = 0, sc = 0, mr = 0;
        // The whole chunk is prefetched for the update unless the last pass updated it
        // incrementally (then the update reads only the rows of the changed labels).
        const std::uint64_t o = screened_chunk(r0, m, pc, p.labels.data(), dist_.data() + r0, need_dist, l, sc, mr,
                                               !p.incremental);
#pragma omp atomic
        mover_rows += mr;
#pragma omp atomic
        open += o;
#pragma omp atomic
        listed += l;
#pragma omp atomic
        screened += sc;
      } else {
        assign_nearest(x + r0 * d, m, d, in_.xnorm ? in_.xnorm + r0 : nullptr, pc, p.labels.data(), dist_.data() + r0);
      }
      const float* wc = w ? w + r0 : nullptr;
      update_chunk(r0, m, wc, p);
      p.inertia = scr && !need_dist ? 0.0 : chunk_inertia(dist_.data() + r0, wc, m);
    });
    const std::uint64_t n = in_.n;
    have_dist_ = !scr || need_dist;
    if (!have_dist_) t.inertia = std::numeric_limits<double>::quiet_NaN();
    if (scr) {
      bounds_ok_ = true;  // every row's bounds now hold for these centroids
      screen_evals_ += screened * k_ + mover_rows * kScreenLanes;
      exact_evals_ += (need_dist ? n - open : 0) + listed;
      // A screened row costs about 0.6 of an exact one on the data it suits, and each
      // open row a second screen of the row plus its candidates' exact distances. When
      // more than a quarter of the screened rows stay open (features of very unequal
      // scale, as in the generated customers, where bf16's relative error swamps the
      // gaps), or their candidates add up to an eighth of theirs times k, screening does
      // not pay: exact passes for 8 iterations, then 16, 32, ... after each further
      // failed try. Rows settled by the bounds cost next to nothing either way, so the
      // open rows must also be a sixteenth of all rows for the pass to count as failed.
      if (open * 16 > n && (open * 4 > screened || listed * 8 > screened * k_)) {
        backoff_ = next_backoff_;
        next_backoff_ *= 2;
      }
    } else {
      exact_evals_ += n * k_;
    }
    return t.changes > 0;
  }
  void reseed(const PackedCentroids&, Totals& t) override {
    reseed_in_memory(t, in_.x, in_.weights, labels_.data(), dist_.data(), in_.n);
    bounds_ok_ = false;  // moved rows' bounds no longer hold
    red_.forget();       // nor do the kept partials of their chunks
  }
  void complete(const PackedCentroids& pc, Totals& t) override {
    if (have_dist_) return;
    const std::size_t n = in_.n, nchunks = (n + kChunkRows - 1) / kChunkRows;
    const auto nc = static_cast<std::ptrdiff_t>(nchunks);
#pragma omp parallel for schedule(static)
    for (std::ptrdiff_t cc = 0; cc < nc; ++cc) {
      const std::size_t r0 = static_cast<std::size_t>(cc) * kChunkRows, m = std::min(kChunkRows, n - r0);
      own_distances(r0, m, pc, labels_.data() + r0, dist_.data() + r0);
    }
    exact_evals_ += n;
    t.inertia = inertia_from_dist(dist_.data(), in_.weights, n);
    have_dist_ = true;
  }
  void assigned(int it) override {
    if (in_.params && in_.params->on_assignment) in_.params->on_assignment(it, labels_.data());
  }
  std::vector<std::int32_t>& labels() { return labels_; }
  std::uint64_t exact_evaluations() const { return exact_evals_; }
  std::uint64_t screen_evaluations() const { return screen_evals_; }

 private:
  // The probe of pass(): up to kProbeRows rows at a fixed stride (the same rows for any
  // thread count), screened against this pass's centroids; true when at most a quarter
  // of them stay open. Their screen evaluations are counted.
  static constexpr std::size_t kProbeRows = 2048;
  bool probe_passes() {
    const std::size_t n = in_.n, m = std::min(n, kProbeRows);
    if (m == 0) return true;
    std::vector<std::uint32_t> rows(m);
    for (std::size_t t = 0; t < m; ++t) rows[t] = static_cast<std::uint32_t>(t * n / m);
    std::vector<std::int32_t> lab(m);
    std::vector<float> thr(m), s12(2 * m);
    const std::size_t open = fn_->screen(in_.x, in_.d, rows.data(), m, rows_.mu.data(), rows_.ab.data(),
                                         rows_.bx.data(), cents_.panels.data(), cents_.init.data(), cents_.ge.data(),
                                         cents_.gf.data(), cents_.bc.data(), cents_.nvec, lab.data(), thr.data(),
                                         s12.data(), nullptr, 0);
    screen_evals_ += m * k_;
    return open * 4 <= m;
  }

  // The pass's new labels (p.labels) into labels_, the sizes and the change count, and
  // the chunk's partial sums. With kept partials (ChunkReducer::keep_partials) only the
  // labels that gained or lost a row are summed again: their sums and weights restart
  // from zero and take the chunk's rows now holding them, in row order, through the same
  // accumulate_sums (a gathered copy of those rows): accumulate_sums adds each label's
  // rows in row order whatever else the chunk holds, so every partial has the bits of a
  // full accumulation, and so do the totals and the centroids. When more than a quarter
  // of the chunk's rows hold such labels, the whole chunk is summed again as usual.
  void update_chunk(std::size_t r0, std::size_t m, const float* wc, ChunkPartial& p) {
    const std::size_t d = in_.d;
    const float* x = in_.x + r0 * d;
    std::int32_t* lab = labels_.data() + r0;
    const std::int32_t* fresh = p.labels.data();
    const bool kept = red_.keeps() && p.kept;
    thread_local std::vector<unsigned char> dirty;
    if (kept) dirty.assign(k_, 0);
    // The new labels into labels_, the changes and the sizes in one loop, marking the
    // labels that gain or lose a row when partials are kept.
    std::uint64_t changed = 0;
    std::int64_t* sizes = p.sizes.data();
    for (std::size_t i = 0; i < m; ++i) {
      const std::int32_t l = fresh[i], o = lab[i];
      if (o != l) {
        ++changed;
        if (kept) dirty[static_cast<std::size_t>(o)] = dirty[static_cast<std::size_t>(l)] = 1;
      }
      lab[i] = l;
      ++sizes[l];
    }
    p.changes = changed;
    // Incremental when the rows of the marked labels are at most a quarter of the chunk.
    bool incremental = kept;
    std::size_t rows = 0;
    if (incremental && changed) {
      for (std::size_t i = 0; i < m; ++i) rows += dirty[static_cast<std::size_t>(lab[i])];
      incremental = rows * 4 <= m;
    }
    if (incremental && changed) {
      thread_local std::vector<float> gx, gw;
      thread_local std::vector<std::int32_t> gl;
      gx.resize(rows * d);
      gl.resize(rows);
      gw.resize(wc ? rows : 0);
      std::size_t q = 0;
      for (std::size_t i = 0; i < m; ++i) {
        if (!dirty[static_cast<std::size_t>(lab[i])]) continue;
        std::memcpy(gx.data() + q * d, x + i * d, d * sizeof(float));
        gl[q] = lab[i];
        if (wc) gw[q] = wc[i];
        ++q;
      }
      for (std::size_t l = 0; l < k_; ++l)
        if (dirty[l]) {
          std::fill(p.sums.begin() + static_cast<std::ptrdiff_t>(l * d),
                    p.sums.begin() + static_cast<std::ptrdiff_t>((l + 1) * d), 0.0);
          p.wsum[l] = 0.0;
        }
      accumulate_sums(gx.data(), rows, d, gl.data(), wc ? gw.data() : nullptr, p.sums.data(), p.wsum.data());
    } else if (!incremental) {
      if (red_.keeps()) {
        std::fill(p.sums.begin(), p.sums.end(), 0.0);
        std::fill(p.wsum.begin(), p.wsum.end(), 0.0);
      }
      accumulate_sums(x, m, d, lab, wc, p.sums.data(), p.wsum.data());
    }
    p.kept = red_.keeps();
    p.incremental = incremental;
  }

  // Hamerly's bounds on the screened rows (Hamerly 2010; bounds.hpp's rigorous helpers):
  // ub_ >= the true distance to the row's label, lb_ <= the true distance to every other
  // centroid, valid for the previous pass's centroids (prev_c_) when bounds_ok_. Moved by
  // the centroid shifts, a row with lb > ub (proves(): beyond the canonical error E)
  // keeps its label without being screened: that label is strictly nearest in the
  // canonical distance, so it is Lloyd's. Screened rows get fresh bounds from their
  // scores (decided: S_j1 and the next largest S; open: exact distances).
  void begin_bounds(const PackedCentroids& pc) {
    const std::size_t k = k_, d = in_.d;
    std::vector<float> cur(pc.rows(), pc.rows() + k * d);
    if (bounds_ok_) {
      centroid_shifts(prev_c_, cur, k, d, shift_);
      p1_ = p2_ = 0;
      jp_ = k;
      for (std::size_t j = 0; j < k; ++j) {
        if (shift_[j] > p1_) { p2_ = p1_; p1_ = shift_[j]; jp_ = j; }
        else if (shift_[j] > p2_) p2_ = shift_[j];
      }
    }
    prev_c_.swap(cur);
    cnmax_ = 0;
    for (std::size_t j = 0; j < k; ++j) cnmax_ = std::max(cnmax_, static_cast<double>(pc.norms()[j]));
    // Movers: the kScreenLanes centroids that moved most. A row failing Hamerly's test
    // only because of them is checked against them directly (one panel of the screen,
    // bounds from the current scores) and against the others' largest shift tau.
    movers_ = bounds_ok_ && k > 2 * kScreenLanes;
    if (movers_) {
      std::vector<std::size_t> ord(k);
      for (std::size_t j = 0; j < k; ++j) ord[j] = j;
      std::partial_sort(ord.begin(), ord.begin() + kScreenLanes + 1, ord.end(),
                        [&](std::size_t a, std::size_t b) { return shift_[a] > shift_[b] || (shift_[a] == shift_[b] && a < b); });
      tau_ = shift_[ord[kScreenLanes]];
      const std::size_t dq = rows_.dq, np = dq / 2;
      mv_.panels.assign(dq * kScreenLanes, 0);
      mv_.init.assign(kScreenLanes, 0.0f);
      mv_.ge.assign(kScreenLanes, 0.0f);
      mv_.gf.assign(kScreenLanes, 0.0f);
      mv_.bc.assign(kScreenLanes, 0.0f);
      is_mover_.assign(k, 0);
      for (std::size_t l = 0; l < kScreenLanes; ++l) {
        const std::size_t j = ord[l], v = j / kScreenLanes, lj = j % kScreenLanes;
        is_mover_[j] = 1;
        for (std::size_t p = 0; p < np; ++p) {
          const std::uint16_t* src = cents_.panels.data() + v * dq * kScreenLanes + p * 2 * kScreenLanes + 2 * lj;
          mv_.panels[p * 2 * kScreenLanes + 2 * l] = src[0];
          mv_.panels[p * 2 * kScreenLanes + 2 * l + 1] = src[1];
        }
        mv_.init[l] = cents_.init[j];
        mv_.ge[l] = cents_.ge[j];
        mv_.gf[l] = cents_.gf[j];
        mv_.bc[l] = cents_.bc[j];
      }
    }
  }
  double row_error(std::size_t i) const { return kappa_ * (static_cast<double>(in_.xnorm[i]) + cnmax_) * (1.0 + kSlack); }
  // Bounds of a decided row i from its scores (s1 = S_j1, s2 = max over j != j1; both
  // within 2^-15 relative of the kernel's S): true distances, rounded outwards.
  void bounds_from_scores(std::size_t i, std::int32_t j1, float s1, float s2) {
    const double xc = rows_.xc2[i];
    const double S1 = s1 - 0x1p-14 * std::fabs(s1);
    const std::uint32_t ab = rows_.ab[i];
    const double P = static_cast<double>(from_bf16(static_cast<std::uint16_t>(ab & 0xFFFFu))) * cents_.ge[j1] +
                     static_cast<double>(from_bf16(static_cast<std::uint16_t>(ab >> 16))) * cents_.gf[j1];
    const double up2 = (xc * (1 + 0x1p-20) - 2 * S1 + 4 * P + 2 * static_cast<double>(cents_.bc[j1])) * (1 + 0x1p-40);
    ub_[i] = std::sqrt(std::max(0.0, up2)) * (1.0 + kSlack);
    lb_[i] = score_lower(i, s2 + 0x1p-14 * std::fabs(s2));
  }
  // Lower bound on row i's true distance to every centroid j whose score S_j (as the
  // kernel computes it) is at most s: delta_j^2 >= |x'|^2 - 2 S_j, rounded down.
  double score_lower(std::size_t i, double s) const {
    const double xc = rows_.xc2[i];
    const double lo2 = (xc * (1 - 0x1p-20) - 2 * s) - 0x1p-40 * (xc + 2 * std::fabs(s));
    return lo2 > 0 ? std::sqrt(lo2) * (1.0 - kSlack) : 0.0;
  }

  // The canonical distances of rows [r0, r0 + m) to their labels lab (d FMAs a row).
  void own_distances(std::size_t r0, std::size_t m, const PackedCentroids& pc, const std::int32_t* lab, float* dist) {
    thread_local std::vector<std::uint32_t> rows;
    rows.resize(m);
    for (std::size_t i = 0; i < m; ++i) rows[i] = static_cast<std::uint32_t>(i);
    kmeans_kernel_table().own_sqdist(in_.x + r0 * in_.d, in_.d, rows.data(), m, in_.xnorm + r0, pc.rows(), pc.norms(),
                                     lab, dist);
  }

  // Screened assignment of rows [r0, r0 + m): Lloyd's labels, and its canonical distances
  // for the open rows always, for the others when need_dist. Rows whose bounds prove
  // their label are not screened. Returns how many rows the screen left open; adds their
  // candidates' count (canonical distances computed for them) to listed and the number
  // of rows screened to screened.
  std::uint64_t screened_chunk(std::size_t r0, std::size_t m, const PackedCentroids& pc, std::int32_t* lab,
                               float* dist, bool need_dist, std::uint64_t& listed, std::uint64_t& screened,
                               std::uint64_t& mover_rows, bool prefetch_chunk) {
    const std::size_t d = in_.d;
    const float* x = in_.x + r0 * d;
    const float* xn = in_.xnorm + r0;
    thread_local std::vector<std::uint32_t> todo, mvl;
    thread_local std::vector<std::int32_t> tlab, mlab;
    thread_local std::vector<float> thr, s12, mthr, ms12;
    thread_local std::vector<double> mlp;
    todo.resize(m);
    mvl.resize(m);
    mlp.resize(m);
    std::size_t ms = 0, nmv = 0;
    if (bounds_ok_) {
      // Hamerly's test on the rows' moved bounds, branch-free: every row's moved bounds
      // and previous label are written (a screened row's are overwritten below), and the
      // rows that fail are listed. The screen prefetches the whole chunk into L2 as it
      // goes, for the centroid update (the screen itself reads only the listed rows).
      for (std::size_t i = 0; i < m; ++i) {
        const std::size_t gi = r0 + i;
        const std::int32_t a = labels_[gi];
        const double u = add_up(ub_[gi], shift_[static_cast<std::size_t>(a)]);
        const double l = sub_dn(lb_[gi], static_cast<std::size_t>(a) == jp_ ? p2_ : p1_);
        const double lp = lb_[gi], rhs = u * u + 2 * row_error(gi);
        const bool ok = u < kInf && proves(l, rhs);
        lab[i] = a;
        ub_[gi] = u;
        lb_[gi] = l;
        // Failing only because of the movers (the label not among them)? Then checked
        // against the movers' current scores below instead of being screened.
        const bool mv = !ok && movers_ && u < kInf && !is_mover_[static_cast<std::size_t>(a)] &&
                        proves(sub_dn(lp, tau_), rhs);
        mvl[nmv] = static_cast<std::uint32_t>(i);
        mlp[nmv] = lp;
        nmv += mv;
        todo[ms] = static_cast<std::uint32_t>(i);
        ms += !ok && !mv;
      }
      mover_rows = nmv;
      if (nmv) {
        // The movers' panel: S for the 16 movers of each listed row; every mover j has
        // delta_j^2 >= |x'|^2 - 2 S_j >= |x'|^2 - 2 max S (2^-14 slack for the index code).
        mlab.resize(nmv);
        mthr.resize(nmv);
        ms12.resize(2 * nmv);
        fn_->screen(x, d, mvl.data(), nmv, rows_.mu.data(), rows_.ab.data() + r0, rows_.bx.data() + r0,
                    mv_.panels.data(), mv_.init.data(), mv_.ge.data(), mv_.gf.data(), mv_.bc.data(), 1, mlab.data(),
                    mthr.data(), ms12.data(), nullptr, 0);
        for (std::size_t t = 0; t < nmv; ++t) {
          const std::size_t i = mvl[t], gi = r0 + i;
          const float s1 = ms12[2 * t];
          const double l = std::min(sub_dn(mlp[t], tau_), score_lower(gi, s1 + 0x1p-14 * std::fabs(s1)));
          const double u = ub_[gi];
          if (proves(l, u * u + 2 * row_error(gi))) {
            lb_[gi] = l;
            continue;
          }
          todo[ms++] = static_cast<std::uint32_t>(i);
        }
      }
    } else {
      for (std::size_t i = 0; i < m; ++i) todo[i] = static_cast<std::uint32_t>(i);
      ms = m;
    }
    screened = ms;
    tlab.resize(ms);
    thr.resize(ms);
    s12.resize(2 * ms);
    const std::size_t open =
        ms ? fn_->screen(x, d, todo.data(), ms, rows_.mu.data(), rows_.ab.data() + r0, rows_.bx.data() + r0,
                         cents_.panels.data(), cents_.init.data(), cents_.ge.data(), cents_.gf.data(), cents_.bc.data(),
                         cents_.nvec, tlab.data(), thr.data(), s12.data(), prefetch_chunk ? x : nullptr,
                         prefetch_chunk ? m * d * sizeof(float) : 0)
           : 0;
    for (std::size_t t = 0; t < ms; ++t) {
      const std::size_t i = todo[t];
      lab[i] = tlab[t];
      if (tlab[t] >= 0) bounds_from_scores(r0 + i, tlab[t], s12[2 * t], s12[2 * t + 1]);
    }
    if (need_dist) {
      // Every row not open: the canonical distance to its label (d FMAs a row).
      thread_local std::vector<std::uint32_t> rows;
      thread_local std::vector<std::int32_t> cent;
      thread_local std::vector<float> own;
      rows.clear();
      cent.clear();
      for (std::size_t i = 0; i < m; ++i)
        if (lab[i] >= 0) {
          rows.push_back(static_cast<std::uint32_t>(i));
          cent.push_back(lab[i]);
        }
      own.resize(rows.size());
      if (!rows.empty())
        kmeans_kernel_table().own_sqdist(x, d, rows.data(), rows.size(), xn, pc.rows(), pc.norms(), cent.data(),
                                         own.data());
      for (std::size_t t = 0; t < rows.size(); ++t) dist[rows[t]] = own[t];
    }
    if (open * 4 > m) {
      // Many open rows (data the screen does not suit): the exact kernel on the gathered
      // open rows is cheaper than listing each row's candidates one row at a time.
      thread_local std::vector<std::uint32_t> orows, ot;
      thread_local std::vector<std::int32_t> olab;
      thread_local std::vector<float> ox, on, odist;
      orows.clear();
      ot.clear();
      for (std::size_t t = 0; t < ms; ++t)
        if (tlab[t] < 0) {
          orows.push_back(todo[t]);
          ot.push_back(static_cast<std::uint32_t>(t));
        }
      ox.resize(open * d);
      on.resize(open);
      olab.resize(open);
      odist.resize(open);
      for (std::size_t q = 0; q < open; ++q) {
        std::copy(x + std::size_t(orows[q]) * d, x + (std::size_t(orows[q]) + 1) * d, ox.data() + q * d);
        on[q] = xn[orows[q]];
      }
      assign_nearest(ox.data(), open, d, on.data(), pc, olab.data(), odist.data());
      for (std::size_t q = 0; q < open; ++q) {
        const std::size_t i = orows[q], gi = r0 + i;
        lab[i] = olab[q];
        dist[i] = odist[q];
        // u from the exact distance; l from the largest score (bounds every centroid).
        const float s1 = s12[2 * ot[q]];
        ub_[gi] = upper_from(odist[q], row_error(gi));
        lb_[gi] = score_lower(gi, s1 + 0x1p-14 * std::fabs(s1));
      }
      listed += open * k_;
    } else if (open) {
      // Open rows: the screen's candidates (S_j >= thr) get their canonical distances;
      // the smallest, lowest index on ties, is Lloyd's label (no other centroid can be).
      // Candidates of all open rows first, then their canonical distances in one call
      // (independent chains interleaved across rows), then each open row's minimum.
      thread_local std::vector<std::int32_t> cand;
      thread_local std::vector<std::uint32_t> crow;
      thread_local std::vector<float> cd, cthr;
      thread_local std::vector<std::size_t> start;
      cand.resize(open * k_ + kScreenLanes);
      crow.clear();
      start.clear();
      cthr.clear();
      std::size_t nc = 0;
      for (std::size_t t = 0; t < ms; ++t) {
        if (tlab[t] >= 0) continue;
        const std::size_t i = todo[t];
        start.push_back(nc);
        cthr.push_back(thr[t]);
        const std::size_t c = fn_->list(x + i * d, d, rows_.mu.data(), rows_.ab[r0 + i], cents_.panels.data(),
                                        cents_.init.data(), cents_.nvec, k_, thr[t], cand.data() + nc);
        crow.insert(crow.end(), c, static_cast<std::uint32_t>(i));
        nc += c;
      }
      start.push_back(nc);
      cd.resize(nc);
      if (nc) kmeans_kernel_table().own_sqdist(x, d, crow.data(), nc, xn, pc.rows(), pc.norms(), cand.data(), cd.data());
      listed += nc;
      for (std::size_t q = 0; q + 1 < start.size(); ++q) {
        const std::size_t s0 = start[q], s1 = start[q + 1];
        if (s0 == s1) continue;  // cannot happen: Lloyd's label always passes the screen
        const std::size_t i = crow[s0], gi = r0 + i;
        std::size_t b = s0;
        for (std::size_t t = s0 + 1; t < s1; ++t)
          if (cd[t] < cd[b]) b = t;  // candidates ascend: strict < keeps the lowest index
        lab[i] = cand[b];
        dist[i] = cd[b];
        // u from the exact distance; l: the other candidates' exact distances, and the
        // threshold for the rest (their S < thr).
        const double E = row_error(gi);
        double l = score_lower(gi, cthr[q]);
        for (std::size_t t = s0; t < s1; ++t)
          if (t != b) l = std::min(l, lower_from(cd[t], E));
        ub_[gi] = upper_from(cd[b], E);
        lb_[gi] = l;
      }
      // Defensive: a row without candidates (impossible by the bound) gets the exact kernel.
      for (std::size_t i = 0; i < m; ++i)
        if (lab[i] < 0) {
          assign_nearest(x + i * d, 1, d, xn + i, pc, lab + i, dist + i);
          ub_[r0 + i] = kInf;
          listed += k_;
        }
    }
    return open;
  }

  const RunInput& in_;
  std::size_t k_;
  ChunkReducer red_;
  std::vector<std::int32_t> labels_;
  std::vector<float> dist_;
  const ScreenKernels* fn_ = nullptr;
  ScreenRows rows_;
  ScreenCentroids cents_;
  int backoff_ = 0, next_backoff_ = 8;
  bool probe_ = true;  // probe before a pass that starts screening afresh (pass())
  bool have_dist_ = true;
  std::uint64_t exact_evals_ = 0, screen_evals_ = 0;
  // Hamerly bounds (screened only).
  std::vector<double> ub_, lb_;
  std::vector<float> prev_c_;
  std::vector<double> shift_;
  bool bounds_ok_ = false, movers_ = false;
  double tau_ = 0;               // the largest shift among the non-movers
  ScreenCentroids mv_;           // the movers' panel (one 16-lane panel)
  std::vector<char> is_mover_;
  double p1_ = 0, p2_ = 0, kappa_ = 0, cnmax_ = 0;
  std::size_t jp_ = 0;
};

class StreamOps final : public PassOps {
 public:
  static std::size_t stream_budget(const RunInput& in) {
    return detail::stream_budget(in.params ? in.params->memory_limit : 0);
  }

 public:
  StreamOps(RowSource& src, const RunInput& in, std::size_t k, bool keep_labels)
      : src_(src), in_(in), k_(k), red_(k, in.d, true, stream_budget(in)), keep_(keep_labels) {
    const std::size_t nchunks = (in.n + kChunkRows - 1) / kChunkRows;
    if (keep_) assign_huge(labels_, in.n, std::int32_t{-1});
    else hashes_.assign(nchunks, 0);
  }
  bool pass(const PackedCentroids& pc, Totals& t, bool /*need_dist*/) override {
    const std::size_t d = in_.d;
    const float* w = in_.weights;
    bool changed = first_;
    first_ = false;
    // One chunk: rows [g0, g0 + m) at xc (g0 = global first row).
    auto chunk = [&](const float* xc, std::size_t g0, std::size_t m, ChunkPartial& p) {
      // Norms on the fly (nullptr): the same canonical values as row_norms, computed by
      // the kernel on the row tile it has just loaded (no extra sweep of the chunk).
      assign_nearest(xc, m, d, nullptr, pc, p.labels.data(), p.dist.data());
      if (keep_) {
        std::uint64_t ch = 0;
        std::int32_t* lab = labels_.data() + g0;
        for (std::size_t i = 0; i < m; ++i) {
          ch += lab[i] != p.labels[i];
          lab[i] = p.labels[i];
        }
        p.changes = ch;
      } else {
        std::uint64_t h = 0;
        for (std::size_t i = 0; i < m; ++i) h += label_hash(g0 + i, p.labels[i]);
        p.hash = h;
      }
      const float* wc = w ? w + g0 : nullptr;
      accumulate_sums(xc, m, d, p.labels.data(), wc, p.sums.data(), p.wsum.data());
      count_sizes(p.labels.data(), m, p.sizes.data());
      p.inertia = chunk_inertia(p.dist.data(), wc, m);
    };
    auto after = [&](std::size_t c, const ChunkPartial& p) {
      if (!keep_) {
        if (hashes_[c] != p.hash) changed = true;
        hashes_[c] = p.hash;
      }
    };
    // Each chunk read by the thread that computes it when the source allows (see
    // stream_chunks): the same chunks and the same reduction order either way.
    stream_chunks(src_, in_.n, d, red_, t, chunk, after);
    return changed || t.changes > 0;
  }
  // Extra pass, only when a cluster is empty: the same distances as the last pass
  // (same centroids, same kernel), the `need` farthest rows kept with their data.
  void reseed(const PackedCentroids& pc, Totals& t) override {
    const auto empty = empty_clusters(t);
    const std::size_t d = in_.d, need = reseed_candidates_needed(empty.size(), k_);
    const float* w = in_.weights;
    std::vector<FarRow> cand;
    std::vector<float> cx;
    std::vector<std::int32_t> cl;
    Totals scratch(0, 0);
    ChunkReducer red(k_, d, false, stream_budget(in_));
    src_.for_each_block(kChunkRows, [&](const float* xb, std::size_t row0, std::size_t nb) {
      check_chunk_block(row0, nb, in_.n);
      red.run(nb, scratch, [&](std::size_t, std::size_t r0, std::size_t m, ChunkPartial& p) {
        const float* xc = xb + r0 * d;
        row_norms(xc, m, d, p.norms.data());
        assign_nearest(xc, m, d, p.norms.data(), pc, p.labels.data(), p.dist.data());
      }, [&](std::size_t c, const ChunkPartial& p) {
        const std::size_t r0 = c * kChunkRows, m = std::min(kChunkRows, nb - r0);
        for (std::size_t i = 0; i < m; ++i) {
          const std::uint64_t row = row0 + r0 + i;
          if (w && !(w[row] > 0)) continue;
          const FarRow f{p.dist[i], row};
          if (cand.size() == need && !far_before(f, cand.back())) continue;
          const auto pos = static_cast<std::size_t>(std::upper_bound(cand.begin(), cand.end(), f, far_before) - cand.begin());
          cand.insert(cand.begin() + static_cast<std::ptrdiff_t>(pos), f);
          cl.insert(cl.begin() + static_cast<std::ptrdiff_t>(pos), p.labels[i]);
          cx.insert(cx.begin() + static_cast<std::ptrdiff_t>(pos * d), xb + (r0 + i) * d, xb + (r0 + i + 1) * d);
          if (cand.size() > need) {
            cand.pop_back();
            cl.pop_back();
            cx.resize(cand.size() * d);
          }
        }
      });
    });
    std::vector<float> cw(cand.size());
    for (std::size_t q = 0; q < cand.size(); ++q) cw[q] = w ? w[cand[q].row] : 1.0f;
    const auto moves = apply_reseed(t, empty, cand, cx.data(), cl.data(), cw.data());
    for (const auto& mv : moves) {
      if (keep_) labels_[mv.row] = mv.to;
      else hashes_[mv.row / kChunkRows] += label_hash(mv.row, mv.to) - label_hash(mv.row, mv.from);
    }
  }
  std::vector<std::int32_t>& labels() { return labels_; }

 private:
  RowSource& src_;
  const RunInput& in_;
  std::size_t k_;
  ChunkReducer red_;
  bool keep_;
  bool first_ = true;
  std::vector<std::int32_t> labels_;
  std::vector<std::uint64_t> hashes_;
};

}  // namespace

RunOutput run_lloyd(const RunInput& in, std::vector<float> centroids) {
  const std::size_t k = centroids.size() / in.d;
  MemoryOps ops(in, k);
  RunOutput out = lloyd_loop(ops, in, std::move(centroids), in.params->max_iter, in.n);
  out.labels = std::move(ops.labels());
  out.state_bytes = algorithm_state_bytes(Algorithm::lloyd, in.n, k, in.d);
  return out;
}

RunOutput run_screened(const RunInput& in, std::vector<float> centroids) {
  const std::size_t k = centroids.size() / in.d;
  MemoryOps ops(in, k, true);
  RunOutput out = lloyd_loop(ops, in, std::move(centroids), in.params->max_iter, in.n);
  out.labels = std::move(ops.labels());
  out.distance_evaluations = ops.exact_evaluations();
  out.screen_evaluations = ops.screen_evaluations();
  out.state_bytes = algorithm_state_bytes(Algorithm::screened, in.n, k, in.d);
  return out;
}

RunOutput run_lloyd_streamed(RowSource& src, const RunInput& in, std::vector<float> centroids,
                             bool keep_labels, int max_iter) {
  const std::size_t k = centroids.size() / in.d;
  StreamOps ops(src, in, k, keep_labels);
  RunOutput out = lloyd_loop(ops, in, std::move(centroids), max_iter, in.n);
  if (keep_labels) out.labels = std::move(ops.labels());
  const std::size_t nchunks = (in.n + kChunkRows - 1) / kChunkRows;
  const std::size_t budget = StreamOps::stream_budget(in);
  out.state_bytes = (keep_labels ? in.n * 4 : nchunks * 8) +
                    ChunkReducer::group_for(k, in.d, budget) * ChunkReducer::bytes_per_chunk(k, in.d);
  return out;
}

}  // namespace personakit::detail
