// Fixed-chunk fp64 accumulation shared by every exact update (update.cpp, lloyd.cpp,
// minibatch.cpp). Internal to the front end.
//
// Determinism scheme: rows are cut into chunks of kChunkRows (chunk c = rows
// [c*kChunkRows, (c+1)*kChunkRows)), independent of threads and of how a source
// delivers its blocks. Each chunk accumulates into its own zeroed fp64 partial, in row
// order; partials are added into the running totals in chunk order (total += p_0,
// total += p_1, ...). Chunks run in parallel in groups of G (G only bounds memory:
// grouping does not change the sequence of additions, so G may depend on anything).
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "kmeans/internal.hpp"
#include "personakit/error.hpp"
#include "personakit/source.hpp"

namespace personakit::detail {

struct Totals {
  std::size_t k = 0, d = 0;
  std::vector<double> sums;          // k×d: sum of w_i x_i per cluster
  std::vector<double> wsum;          // k: sum of w_i per cluster
  std::vector<std::int64_t> sizes;   // k: rows per cluster
  double inertia = 0;                // sum of w_i dist_i
  std::uint64_t changes = 0;         // labels changed (in-memory passes)
  Totals() = default;
  Totals(std::size_t k_, std::size_t d_) : k(k_), d(d_), sums(k_ * d_), wsum(k_), sizes(k_) {}
  void clear() {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(wsum.begin(), wsum.end(), 0.0);
    std::fill(sizes.begin(), sizes.end(), 0);
    inertia = 0;
    changes = 0;
  }
};

// One chunk's partial plus scratch owned by the chunk while it runs.
struct ChunkPartial {
  std::vector<double> sums, wsum;
  std::vector<std::int64_t> sizes;
  double inertia = 0;
  std::uint64_t changes = 0;
  std::uint64_t hash = 0;                 // streamed passes: additive (row, label) hash
  // Kept partials (ChunkReducer::keep_partials): sums and wsum are left from the last
  // pass (not zeroed) and hold that pass's partial of this chunk when kept is true;
  // the pass's function updates them and sets kept. incremental: the last pass updated
  // only the labels that changed (the caller's hint for the next one).
  bool kept = false, incremental = false;
  std::vector<std::int32_t> labels;       // kChunkRows scratch
  std::vector<float> dist, norms;         // kChunkRows scratch
};

// sum_i w_i * dist_i over one chunk, fp64, in row order. w_i * dist_i is exact in fp64
// (24-bit × 24-bit significands), so only the additions round.
inline double chunk_inertia(const float* dist, const float* w, std::size_t m) {
  double s = 0;
  if (w) {
    for (std::size_t i = 0; i < m; ++i) s += static_cast<double>(w[i]) * static_cast<double>(dist[i]);
  } else {
    for (std::size_t i = 0; i < m; ++i) s += static_cast<double>(dist[i]);
  }
  return s;
}

inline void count_sizes(const std::int32_t* labels, std::size_t m, std::int64_t* sizes) {
  for (std::size_t i = 0; i < m; ++i) ++sizes[labels[i]];
}

// Hash of one (row, label) pair; a chunk's hash is the sum (mod 2^64) over its rows,
// so a relabelled row updates it by one subtraction and one addition.
inline std::uint64_t label_hash(std::uint64_t row, std::int32_t label) {
  return splitmix64(row * 0xD1B54A32D192ED03ull + static_cast<std::uint64_t>(label) + 1);
}

class ChunkReducer {
 public:
  // budget: bytes for the partials and scratch of the chunks in flight (G of them).
  ChunkReducer(std::size_t k, std::size_t d, bool accumulate = true, std::size_t budget = std::size_t{64} << 20)
      : k_(k), d_(d), g_(group_for(k, d, budget, accumulate)), acc_(accumulate) {
    parts_.resize(g_);
  }
  // G: at most 64 chunks in flight, at least 2 (two threads), else as many as fit the budget.
  static std::size_t group_for(std::size_t k, std::size_t d, std::size_t budget, bool accumulate = true) {
    return std::clamp<std::size_t>(budget / bytes_per_chunk(k, d, accumulate), 2, 64);
  }
  static std::size_t bytes_per_chunk(std::size_t k, std::size_t d, bool accumulate = true) {
    return (accumulate ? (k * d + 2 * k) * 8 : 0) + kChunkRows * 12;
  }
  std::size_t group() const { return g_; }
  // Keeps one partial per chunk across passes, for nchunks chunks (one group): the
  // partials are not zeroed, and fn must bring part.sums / part.wsum to the chunk's
  // partial (ChunkPartial::kept says what they hold). Results are unchanged as long as
  // fn leaves exactly the partial that a zeroed accumulation would. Bytes:
  // nchunks · bytes_per_chunk(k, d).
  void keep_partials(std::size_t nchunks) {
    keep_ = true;
    g_ = std::max<std::size_t>(nchunks, 1);
    parts_.resize(g_);
  }
  bool keeps() const { return keep_; }
  // The kept partials no longer match the labels (rows relabelled outside a pass).
  void forget() {
    for (auto& p : parts_) p.kept = p.incremental = false;
  }

  // Rows [0, nrows) of a block whose first row starts a chunk. fn(c, r0, m, part) runs
  // for local chunk c = rows [r0, r0+m) with a zeroed partial (parallel over chunks);
  // partials are then added into t in chunk order. after(c, part) (optional) runs
  // serially in chunk order, after the partial is added.
  template <class F, class A>
  void run(std::size_t nrows, Totals& t, const F& fn, const A& after) {
    const std::size_t nchunks = (nrows + kChunkRows - 1) / kChunkRows;
    for (std::size_t g0 = 0; g0 < nchunks; g0 += g_) {
      const std::size_t ng = std::min(g_, nchunks - g0);
      std::exception_ptr err;  // an exception must not leave the parallel region
#pragma omp parallel for schedule(dynamic, 1)
      for (std::size_t q = 0; q < ng; ++q) {
        try {
          ChunkPartial& p = parts_[q];
          prepare(p);
          const std::size_t c = g0 + q, r0 = c * kChunkRows;
          fn(c, r0, std::min(kChunkRows, nrows - r0), p);
        } catch (...) {
#pragma omp critical(personakit_chunk_error)
          if (!err) err = std::current_exception();
        }
      }
      if (err) std::rethrow_exception(err);
      if (acc_) {
        const std::size_t kd = k_ * d_;
        // Each element receives the chunk partials in chunk order, whichever thread
        // owns the element: parallel over element blocks keeps the sum order fixed.
        // Within a block the chunk loop is outside, so the adds run along contiguous
        // elements (vectorised) while the block of totals stays in L1.
        constexpr std::size_t kEb = 512;
        const std::size_t nb = (kd + kEb - 1) / kEb;
#pragma omp parallel for schedule(static) if (kd * ng >= (std::size_t{1} << 18))
        for (std::size_t b = 0; b < nb; ++b) {
          const std::size_t e0 = b * kEb, e1 = std::min(kd, e0 + kEb);
          double* ts = t.sums.data();
          for (std::size_t q = 0; q < ng; ++q) {
            const double* ps = parts_[q].sums.data();
            for (std::size_t e = e0; e < e1; ++e) ts[e] += ps[e];
          }
        }
        for (std::size_t q = 0; q < ng; ++q) {
          for (std::size_t l = 0; l < k_; ++l) { t.wsum[l] += parts_[q].wsum[l]; t.sizes[l] += parts_[q].sizes[l]; }
        }
      }
      for (std::size_t q = 0; q < ng; ++q) {
        t.inertia += parts_[q].inertia;
        t.changes += parts_[q].changes;
        after(g0 + q, parts_[q]);
      }
    }
  }
  template <class F>
  void run(std::size_t nrows, Totals& t, const F& fn) {
    run(nrows, t, fn, [](std::size_t, const ChunkPartial&) {});
  }

 private:
  void prepare(ChunkPartial& p) const {
    if (acc_ && keep_) {
      if (p.sums.size() != k_ * d_) {
        p.sums.assign(k_ * d_, 0.0);
        p.wsum.assign(k_, 0.0);
        p.kept = false;
      }
      p.sizes.assign(k_, 0);
    } else if (acc_) {
      p.sums.assign(k_ * d_, 0.0);
      p.wsum.assign(k_, 0.0);
      p.sizes.assign(k_, 0);
    }
    p.inertia = 0;
    p.changes = 0;
    p.hash = 0;
    if (p.labels.size() < kChunkRows) {
      p.labels.resize(kChunkRows);
      p.dist.resize(kChunkRows);
      p.norms.resize(kChunkRows);
    }
  }
  std::size_t k_, d_, g_;
  bool acc_, keep_ = false;
  std::vector<ChunkPartial> parts_;
};

// Bytes for the chunk partials in flight of a streamed pass: a quarter of the memory
// limit (64 MiB without one).
inline std::size_t stream_budget(std::size_t memory_limit) {
  return memory_limit ? memory_limit / 4 : std::size_t{64} << 20;
}

// A source's block [row0, row0 + nb) must start a chunk and, unless it is the last,
// hold whole chunks; otherwise the chunks (and so the bits) would not be the in-memory ones.
inline void check_chunk_block(std::size_t row0, std::size_t nb, std::size_t n) {
  if (row0 % kChunkRows != 0 || (nb % kChunkRows != 0 && row0 + nb != n))
    throw Error("row source broke the block alignment (block at row " + std::to_string(row0) + " of " +
                std::to_string(nb) + " rows, alignment " + std::to_string(kChunkRows) + ")");
}

// One streamed pass over the n×d rows of src, chunk by chunk, for the exact streamed
// algorithms (lloyd.cpp, hamerly.cpp's run_bounded_streamed): fn(xc, g0, m, part) for
// the chunk of rows [g0, g0 + m) at xc (m×d, valid during the call), in parallel over
// the chunks of each of red's groups; then the partials are added into t in chunk order
// and after(c, part) runs for global chunk c, serially, in chunk order.
// A source with parallel range reads (the HDF5 source's pread reader) is not read in
// blocks: each chunk is read (pread out of the page cache) by the thread that computes
// it, into that thread's own kChunkRows×d buffer, so the copy lands in L2 and the
// kernels read it there instead of a reader thread streaming whole blocks through
// DRAM; the operating system's read-ahead is asked for the next span. Other sources
// deliver blocks aligned to kChunkRows. The same chunks in the same order either way:
// the same bits. Throws when the source breaks the alignment or delivers too few rows.
template <class F, class A>
void stream_chunks(RowSource& src, std::size_t n, std::size_t d, ChunkReducer& red, Totals& t, const F& fn,
                   const A& after) {
  std::size_t seen = 0;
  if (src.parallel_reads()) {
    const std::size_t span = red.group() * kChunkRows;
    // One kChunkRows×d buffer per OpenMP thread, for this pass only.
    std::vector<std::vector<float>> xbuf(static_cast<std::size_t>(omp_get_max_threads()));
    src.begin_pass();
    src.will_need(0, std::min(n, span));
    for (std::size_t row0 = 0; row0 < n; row0 += span) {
      const std::size_t nb = std::min(span, n - row0);
      if (row0 + nb < n) src.will_need(row0 + nb, std::min(span, n - row0 - nb));
      const std::size_t c0 = row0 / kChunkRows;
      red.run(nb, t, [&](std::size_t, std::size_t r0, std::size_t m, ChunkPartial& p) {
        std::vector<float>& xb = xbuf.at(static_cast<std::size_t>(omp_get_thread_num()));
        if (xb.size() < kChunkRows * d) xb.resize(kChunkRows * d);
        src.read_range(row0 + r0, m, xb.data());
        fn(static_cast<const float*>(xb.data()), row0 + r0, m, p);
      }, [&](std::size_t c, const ChunkPartial& p) { after(c0 + c, p); });
    }
    seen = n;
  } else {
    src.for_each_block(kChunkRows, [&](const float* xb, std::size_t row0, std::size_t nb) {
      check_chunk_block(row0, nb, n);
      const std::size_t c0 = row0 / kChunkRows;
      red.run(nb, t, [&](std::size_t, std::size_t r0, std::size_t m, ChunkPartial& p) {
        fn(xb + r0 * d, row0 + r0, m, p);
      }, [&](std::size_t c, const ChunkPartial& p) { after(c0 + c, p); });
      seen = row0 + nb;
    });
  }
  if (seen != n) throw Error("row source delivered " + std::to_string(seen) + " rows, expected " + std::to_string(n));
}

// Workspace of update_centroids kept across iterations (internal.hpp).
class UpdateWorkspace {
 public:
  UpdateWorkspace(std::size_t k, std::size_t d) : t(k, d), red(k, d) {}
  Totals t;
  ChunkReducer red;
};

// ---- Empty clusters ----
// A row considered for re-seeding an empty cluster. Order: farthest first, ties by
// lowest row index (a total order, so any selection method picks the same rows).
struct FarRow {
  float dist;
  std::uint64_t row;
};
inline bool far_before(const FarRow& a, const FarRow& b) {
  return a.dist > b.dist || (a.dist == b.dist && a.row < b.row);
}

// Number of candidates that always suffices: each empty cluster takes one row, and
// at most one row per non-empty cluster is skipped (the last row of a cluster).
inline std::size_t reseed_candidates_needed(std::size_t empty, std::size_t k) { return empty + k; }

// Clusters with zero total weight, ascending.
inline std::vector<std::size_t> empty_clusters(const Totals& t) {
  std::vector<std::size_t> e;
  for (std::size_t l = 0; l < t.k; ++l)
    if (!(t.wsum[l] > 0)) e.push_back(l);
  return e;
}

struct Relabel {
  std::uint64_t row;
  std::int32_t from, to;
};

// Re-seed the empty clusters (ascending) from the candidates (sorted by far_before),
// moving each chosen row's contribution from its cluster to the empty one, as
// scikit-learn does. A candidate is skipped when taking it would empty its own cluster.
// cand_x: candidates' rows (count×d), cand_label, cand_w (null = 1). Returns the moves.
std::vector<Relabel> apply_reseed(Totals& t, const std::vector<std::size_t>& empty,
                                  const std::vector<FarRow>& cand, const float* cand_x,
                                  const std::int32_t* cand_label, const float* cand_w);

// Re-seed the empty clusters of t from in-memory distances (rows farthest first);
// updates labels and sets dist to 0 for the moved rows.
std::vector<Relabel> reseed_in_memory(Totals& t, const float* x, const float* weights,
                                      std::int32_t* labels, float* dist, std::size_t n);

// new_c = sums / wsum rounded once to fp32 (clusters still empty keep old_c);
// returns sum over clusters of ||new - old||^2 in fp64.
double finalize_centroids(const Totals& t, const std::vector<float>& old_c, std::vector<float>& new_c);

}  // namespace personakit::detail
