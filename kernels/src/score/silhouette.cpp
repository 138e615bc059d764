// Exact silhouette in O(n·d + n·K) memory (never n×n), and its seeded sample.
//
// The points are sorted by cluster once, so each cluster is a contiguous run of
// columns: the per-(row, cluster) distance sums become sums over contiguous tiles.
// Two engines give the same distances bit for bit (the canonical
// squared distance, then a correctly rounded sqrt) and differ only in summation order:
//   - symmetric (the default): the fused tile kernel of the active ISA
//     (ScoreKernelTable::silhouette_tile: avx512/, avx2/, ref/), no tile in memory,
//     over the upper triangle of tiles only (see sums_symmetric);
//   - tiled (very many small clusters): sqdist_rows (dispatched) into an L2 tile,
//     sqrt, fp64 sums.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "labels.hpp"
#include "personakit/assign.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#include "personakit/score.hpp"
#include "kernel_table.hpp"
#include "silhouette_kernel.hpp"

namespace personakit {
namespace {

using score_detail::kSilPanel;

constexpr std::size_t kRowBlock = 256;

struct Sorted {
  std::size_t n = 0, d = 0, K = 0;
  std::vector<float> x;              // n×d, rows in cluster order
  std::vector<float> norms;          // canonical
  std::vector<std::size_t> off;      // K+1 row offsets of the clusters
  std::vector<std::size_t> orig;     // sorted position -> original row
};

// Column chunks: [begin, end) inside one cluster, at most `chunk` columns.
struct Chunk { std::size_t cluster, begin, end; };

std::vector<Chunk> make_chunks(const Sorted& s, std::size_t chunk) {
  std::vector<Chunk> out;
  for (std::size_t c = 0; c < s.K; ++c)
    for (std::size_t b = s.off[c]; b < s.off[c + 1]; b += chunk)
      out.push_back({c, b, std::min(s.off[c + 1], b + chunk)});
  return out;
}

// Columns per chunk: the chunk's d×cols floats fit in about 128 KiB (half an L2).
std::size_t chunk_cols(std::size_t d) {
  const std::size_t c = (std::size_t(128) << 10) / (4 * d);
  return std::max<std::size_t>(kSilPanel * 4, c / (kSilPanel * 4) * (kSilPanel * 4));
}

// sums: n×K (row-major, sorted order) of sum_j sqrt(sqdist(x_i, x_j)) per cluster of j.
//
// Symmetric: tile (p, q) of column chunks, p <= q, is computed once and gives both
// the rows of p their sums over q and the rows of q their sums over p (half the
// flops). A tile's partial sums are fp64 in a fixed order; they are added into the
// n×K table as 64-bit fixed point (integer addition is associative), so the result is
// the same bits whatever the thread count and schedule. Scale: every distance is at
// most B = 2·max|x_i| (the canonical form cannot exceed it beyond rounding; 1% slack),
// a sum at most n·B, so scale = 2^62/(n·B) cannot overflow; each tile's partial is
// rounded once, an absolute error <= 0.5/scale = n·B·2^-63 per tile, at most
// (chunks + K) tiles per sum: ~1e-10 relative at n = 1e6 for ordinary data.
std::uint64_t sums_symmetric(const Sorted& s, double* sums) {
  const detail::ScoreKernelTable& kt = detail::score_kernel_table();  // dispatch once per call
  const std::size_t d = s.d, K = s.K, n = s.n;
  const std::vector<Chunk> chunks = make_chunks(s, chunk_cols(d));
  const std::size_t M = chunks.size();
  std::vector<std::size_t> pb(M + 1, 0);  // first panel of each chunk
  for (std::size_t c = 0; c < M; ++c) pb[c + 1] = pb[c] + (chunks[c].end - chunks[c].begin + kSilPanel - 1) / kSilPanel;
  const std::size_t np = pb[M];
  std::vector<float> store(np * d * kSilPanel + 16, 0.0f), cn(np * kSilPanel + 16, 0.0f);
  const auto align = [](std::vector<float>& v) {
    const auto a = reinterpret_cast<std::uintptr_t>(v.data());
    return v.data() + ((64 - a % 64) % 64) / sizeof(float);
  };
  float* panels = align(store);
  float* cnorm = align(cn);
  double maxnorm = 0;
#pragma omp parallel for schedule(static) reduction(max : maxnorm)
  for (std::size_t c = 0; c < M; ++c)
    for (std::size_t i = chunks[c].begin; i < chunks[c].end; ++i) {
      const std::size_t t = i - chunks[c].begin, p = pb[c] + t / kSilPanel, lane = t % kSilPanel;
      for (std::size_t j = 0; j < d; ++j) panels[(p * d + j) * kSilPanel + lane] = s.x[i * d + j];
      cnorm[p * kSilPanel + lane] = s.norms[i];
      maxnorm = std::max(maxnorm, double(s.norms[i]));
    }
  const double bound = std::max(2.0 * std::sqrt(maxnorm) * 1.01, 1e-30);
  const double scale = std::ldexp(1.0, 62) / (double(n) * bound);
  std::vector<std::int64_t> fx(n * K, 0);
  auto add = [&](std::size_t row, std::size_t cluster, double v) {
    const auto q = static_cast<std::int64_t>(std::llround(std::min(v * scale, std::ldexp(1.0, 62))));
    __atomic_fetch_add(&fx[row * K + cluster], q, __ATOMIC_RELAXED);
  };
  std::vector<std::pair<std::uint32_t, std::uint32_t>> tiles;
  tiles.reserve(M * (M + 1) / 2);
  for (std::size_t p = 0; p < M; ++p)
    for (std::size_t q = p; q < M; ++q) tiles.emplace_back(static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(q));
  const std::size_t cc = chunk_cols(d);
#pragma omp parallel
  {
    std::vector<double> rowsum(cc), colsum(cc + kSilPanel);
    std::vector<float> scratch_store(cc + 2 * kSilPanel);
    float* scratch = align(scratch_store);
#pragma omp for schedule(dynamic, 1)
    for (std::size_t t = 0; t < tiles.size(); ++t) {
      const Chunk& P = chunks[tiles[t].first];
      const Chunk& Q = chunks[tiles[t].second];
      const bool diag = tiles[t].first == tiles[t].second;
      const std::size_t nr = P.end - P.begin, nq = Q.end - Q.begin;
      const std::size_t q0 = pb[tiles[t].second], qn = pb[tiles[t].second + 1] - q0;
      const unsigned valid = nq % kSilPanel ? static_cast<unsigned>(nq % kSilPanel) : 16u;
      std::fill(rowsum.begin(), rowsum.begin() + nr, 0.0);
      std::fill(colsum.begin(), colsum.begin() + qn * kSilPanel, 0.0);
      kt.silhouette_tile(s.x.data() + P.begin * d, s.norms.data() + P.begin, nr, d,
                                            panels + q0 * d * kSilPanel, cnorm + q0 * kSilPanel, qn, valid,
                                            rowsum.data(), diag ? nullptr : colsum.data(), scratch);
      for (std::size_t r = 0; r < nr; ++r) add(P.begin + r, Q.cluster, rowsum[r]);
      if (!diag)
        for (std::size_t j = 0; j < nq; ++j) add(Q.begin + j, P.cluster, colsum[j]);
    }
  }
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n * K; ++i) sums[i] = double(fx[i]) / scale;
  std::uint64_t evals = 0;  // distance evaluations: the tiles' areas
  for (const auto& [p, q] : tiles) evals += std::uint64_t(chunks[p].end - chunks[p].begin) * (chunks[q].end - chunks[q].begin);
  return evals;
}

// Tiled engine: fixed chunks of the sorted order (they may span clusters, so any K
// works), tile = row block × chunk via sqdist_rows, then sqrt and fp64 sums over each
// cluster's run of columns inside the chunk.
std::uint64_t sums_generic(const Sorted& s, double* sums) {
  const std::size_t d = s.d, K = s.K, n = s.n;
  const std::size_t cc = chunk_cols(d);
  const std::size_t nchunks = (n + cc - 1) / cc;
  std::vector<PackedCentroids> packed(nchunks);
  for (std::size_t q = 0; q < nchunks; ++q)
    packed[q].pack(s.x.data() + q * cc * d, std::min(cc, n - q * cc), d);
  const std::size_t nblocks = (n + kRowBlock - 1) / kRowBlock;
  std::fill(sums, sums + n * K, 0.0);
#pragma omp parallel
  {
    std::vector<float> tile(kRowBlock * cc);
#pragma omp for schedule(dynamic, 1)
    for (std::size_t blk = 0; blk < nblocks; ++blk) {
      const std::size_t r0 = blk * kRowBlock, nr = std::min(kRowBlock, n - r0);
      std::size_t c0 = 0;  // first cluster overlapping the chunk
      for (std::size_t q = 0; q < nchunks; ++q) {
        const std::size_t b = q * cc, m = std::min(cc, n - b);
        sqdist_rows(s.x.data() + r0 * d, nr, d, s.norms.data() + r0, packed[q], tile.data(), cc);
        while (s.off[c0 + 1] <= b) ++c0;
        for (std::size_t r = 0; r < nr; ++r) {
          const float* t = tile.data() + r * cc;
          double* out = sums + (r0 + r) * K;
          for (std::size_t c = c0; c < K && s.off[c] < b + m; ++c) {
            const std::size_t lo = std::max(s.off[c], b) - b, hi = std::min(s.off[c + 1], b + m) - b;
            double acc = 0;
            for (std::size_t j = lo; j < hi; ++j) acc += std::sqrt(t[j]);
            out[c] += acc;
          }
        }
      }
    }
  }
  return std::uint64_t(n) * n;
}

SilhouetteResult silhouette_impl(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                                 bool per_sample, bool skip_negative, const char* who) {
  if (d == 0) throw Error(std::string(who) + ": d must be at least 1");
  const auto dl = score_detail::internal_labels(labels, n, skip_negative, who);
  const std::size_t K = dl.values.size(), m = dl.kept;
  if (K < 2 || K + 1 > m)
    throw Error(std::string(who) + ": number of clusters is " + std::to_string(K) +
                "; valid values are 2 to n-1 = " + std::to_string(m > 0 ? m - 1 : 0) + " (n rows scored)");
  Sorted s;
  s.n = m; s.d = d; s.K = K;
  s.off.assign(K + 1, 0);
  for (std::size_t c = 0; c < K; ++c) s.off[c + 1] = s.off[c] + static_cast<std::size_t>(dl.counts[c]);
  s.orig.resize(m);
  {
    std::vector<std::size_t> pos(s.off.begin(), s.off.end() - 1);
    for (std::size_t i = 0; i < n; ++i)
      if (dl.id[i] >= 0) s.orig[pos[dl.id[i]]++] = i;
  }
  s.x.resize(m * d);
#pragma omp parallel for schedule(static)
  for (std::size_t p = 0; p < m; ++p) std::copy(x + s.orig[p] * d, x + s.orig[p] * d + d, s.x.begin() + p * d);
  s.norms.resize(m);
  row_norms(s.x.data(), m, d, s.norms.data());

  std::vector<double> sums(m * K);
  // The symmetric engine works on chunks inside one cluster: with very many small
  // clusters the chunk count (and the tile count, its square) explodes, so it gives
  // way to the tiled engine, whose chunks ignore cluster boundaries.
  const std::size_t cc = chunk_cols(d), plain_chunks = (m + cc - 1) / cc;
  const std::uint64_t evals = K <= plain_chunks + 64 ? sums_symmetric(s, sums.data()) : sums_generic(s, sums.data());

  // a = mean distance to the own cluster (self excluded: its distance is exactly 0),
  // b = smallest mean distance to another cluster; s = (b - a) / max(a, b).
  std::vector<double> sv(m);
  for (std::size_t c = 0; c < K; ++c) {
    const double own = double(dl.counts[c]);
    for (std::size_t p = s.off[c]; p < s.off[c + 1]; ++p) {
      if (dl.counts[c] == 1) { sv[p] = 0.0; continue; }  // singleton: 0 (scikit-learn)
      const double* row = sums.data() + p * K;
      const double a = row[c] / (own - 1);
      double b = INFINITY;
      for (std::size_t o = 0; o < K; ++o)
        if (o != c) b = std::min(b, row[o] / double(dl.counts[o]));
      const double mx = std::max(a, b);
      sv[p] = mx > 0 ? (b - a) / mx : 0.0;  // 0/0 (all points identical) -> 0, as nan_to_num
    }
  }
  SilhouetteResult r;
  r.distance_evaluations = evals;
  r.cluster_labels = dl.values;
  r.per_cluster.assign(K, 0.0);
  for (std::size_t c = 0; c < K; ++c) {
    double t = 0;
    for (std::size_t p = s.off[c]; p < s.off[c + 1]; ++p) t += sv[p];
    r.per_cluster[c] = t / double(dl.counts[c]);
  }
  // Mean in original row order (the order scikit-learn averages in).
  std::vector<double> by_row(n, 0.0);
  for (std::size_t p = 0; p < m; ++p) by_row[s.orig[p]] = sv[p];
  double tot = 0;
  for (std::size_t i = 0; i < n; ++i) tot += by_row[i];
  r.mean = tot / double(m);
  if (per_sample) {
    r.per_sample.resize(n);
    for (std::size_t i = 0; i < n; ++i) r.per_sample[i] = static_cast<float>(by_row[i]);
  }
  return r;
}

}  // namespace

SilhouetteResult silhouette(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                            bool per_sample, bool skip_negative) {
  return silhouette_impl(x, n, d, labels, per_sample, skip_negative, "silhouette");
}

std::vector<std::size_t> silhouette_sample_indices(std::size_t n, std::size_t sample_size, std::uint64_t seed) {
  if (sample_size >= n) {
    std::vector<std::size_t> all(n);
    std::iota(all.begin(), all.end(), std::size_t(0));
    return all;
  }
  // Partial Fisher–Yates over a lazily materialised permutation: O(sample) memory via
  // a sorted swap list would be smaller, but n indices are fine next to n×d floats.
  std::vector<std::size_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::size_t(0));
  std::uint64_t st = seed;
  for (std::size_t i = 0; i < sample_size; ++i) {
    // Unbiased bounded draw in [0, n - i): rejection on the top of the 64-bit range.
    const std::uint64_t range = n - i, limit = UINT64_MAX - UINT64_MAX % range;
    std::uint64_t v;
    do v = score_detail::splitmix64(st); while (v >= limit);
    std::swap(perm[i], perm[i + v % range]);
  }
  perm.resize(sample_size);
  std::sort(perm.begin(), perm.end());
  return perm;
}

double silhouette_sampled(const float* x, std::size_t n, std::size_t d, const std::int32_t* labels,
                          std::size_t sample_size, std::uint64_t seed, bool skip_negative) {
  if (sample_size == 0) throw Error("silhouette_sampled: sample_size must be at least 1");
  // Noise rows are dropped before sampling, so the sample holds sample_size scored rows.
  std::vector<std::size_t> keep;
  keep.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] < 0 && !skip_negative)
      throw Error("silhouette_sampled: label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                  " is negative (pass skip_negative to drop noise rows)");
    if (labels[i] >= 0) keep.push_back(i);
  }
  const std::vector<std::size_t> idx = silhouette_sample_indices(keep.size(), sample_size, seed);
  std::vector<float> xs(idx.size() * d);
  std::vector<std::int32_t> ls(idx.size());
  for (std::size_t q = 0; q < idx.size(); ++q) {
    const std::size_t i = keep[idx[q]];
    std::copy(x + i * d, x + i * d + d, xs.begin() + q * d);
    ls[q] = labels[i];
  }
  return silhouette_impl(xs.data(), idx.size(), d, ls.data(), false, false, "silhouette_sampled").mean;
}

}  // namespace personakit
