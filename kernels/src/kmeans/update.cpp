// The Lloyd update shared by every exact algorithm, empty-cluster re-seeding,
// inertia and progress. See chunked.hpp for the determinism scheme.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "kmeans/chunked.hpp"
#include "personakit/error.hpp"

namespace personakit::detail {

std::vector<Relabel> apply_reseed(Totals& t, const std::vector<std::size_t>& empty,
                                  const std::vector<FarRow>& cand, const float* cand_x,
                                  const std::int32_t* cand_label, const float* cand_w) {
  const std::size_t d = t.d;
  std::vector<Relabel> moves;
  std::size_t q = 0;
  for (const std::size_t l : empty) {
    for (; q < cand.size(); ++q) {
      const std::int32_t from = cand_label[q];
      const double w = cand_w ? cand_w[q] : 1.0;
      if (!(w > 0)) continue;
      if (t.sizes[from] <= 1 || !(t.wsum[from] - w > 0)) continue;  // would empty `from`
      const float* xr = cand_x + q * d;
      double* sf = &t.sums[static_cast<std::size_t>(from) * d];
      double* sl = &t.sums[l * d];
      for (std::size_t j = 0; j < d; ++j) {
        const double v = w * xr[j];
        sf[j] -= v;
        sl[j] = v;
      }
      t.wsum[from] -= w;
      t.sizes[from] -= 1;
      t.wsum[l] = w;
      t.sizes[l] += 1;
      moves.push_back({cand[q].row, from, static_cast<std::int32_t>(l)});
      ++q;
      break;
    }
  }
  return moves;
}

double finalize_centroids(const Totals& t, const std::vector<float>& old_c, std::vector<float>& new_c) {
  const std::size_t k = t.k, d = t.d;
  new_c.resize(k * d);
  double shift = 0;
  for (std::size_t l = 0; l < k; ++l) {
    const bool has = t.wsum[l] > 0;
    for (std::size_t j = 0; j < d; ++j) {
      const std::size_t e = l * d + j;
      new_c[e] = has ? static_cast<float>(t.sums[e] / t.wsum[l]) : old_c[e];
      const double dv = static_cast<double>(new_c[e]) - static_cast<double>(old_c[e]);
      shift += dv * dv;
    }
  }
  return shift;
}

// Candidates for re-seeding from in-memory dist: the `need` first rows in far_before
// order among rows with positive weight.
static std::vector<FarRow> far_rows(const float* dist, const float* w, std::size_t n, std::size_t need) {
  std::vector<FarRow> all;
  all.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    if (!w || w[i] > 0) all.push_back({dist[i], i});
  need = std::min(need, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(need), all.end(), far_before);
  all.resize(need);
  return all;
}

std::vector<Relabel> reseed_in_memory(Totals& t, const float* x, const float* weights,
                                      std::int32_t* labels, float* dist, std::size_t n) {
  const auto empty = empty_clusters(t);
  if (empty.empty()) return {};
  const std::size_t d = t.d;
  const auto cand = far_rows(dist, weights, n, reseed_candidates_needed(empty.size(), t.k));
  std::vector<float> cx(cand.size() * d);
  std::vector<std::int32_t> cl(cand.size());
  std::vector<float> cw(cand.size());
  for (std::size_t q = 0; q < cand.size(); ++q) {
    std::memcpy(&cx[q * d], x + cand[q].row * d, d * sizeof(float));
    cl[q] = labels[cand[q].row];
    cw[q] = weights ? weights[cand[q].row] : 1.0f;
  }
  auto moves = apply_reseed(t, empty, cand, cx.data(), cl.data(), cw.data());
  for (const auto& mv : moves) {
    labels[mv.row] = mv.to;
    dist[mv.row] = 0.0f;
  }
  return moves;
}

std::vector<std::size_t> update_centroids(UpdateWorkspace& ws, const float* x, std::size_t n, std::size_t d,
                                          const float* weights, std::int32_t* labels, float* dist,
                                          std::size_t k, const std::vector<float>& old_c,
                                          std::vector<float>& new_c, std::vector<std::int64_t>* sizes,
                                          double* shift) {
  if (ws.t.k != k || ws.t.d != d) throw Error("update_centroids: workspace made for another k or d");
  Totals& t = ws.t;
  t.clear();
  ws.red.run(n, t, [&](std::size_t, std::size_t r0, std::size_t m, ChunkPartial& p) {
    accumulate_sums(x + r0 * d, m, d, labels + r0, weights ? weights + r0 : nullptr, p.sums.data(), p.wsum.data());
    count_sizes(labels + r0, m, p.sizes.data());
  });
  const auto moves = reseed_in_memory(t, x, weights, labels, dist, n);
  const double s = finalize_centroids(t, old_c, new_c);
  if (shift) *shift = s;
  if (sizes) *sizes = t.sizes;
  std::vector<std::size_t> reseeded;
  for (const auto& mv : moves) reseeded.push_back(static_cast<std::size_t>(mv.to));
  return reseeded;
}

std::vector<std::size_t> update_centroids(const float* x, std::size_t n, std::size_t d,
                                          const float* weights, std::int32_t* labels, float* dist,
                                          std::size_t k, const std::vector<float>& old_c,
                                          std::vector<float>& new_c, std::vector<std::int64_t>& sizes,
                                          double* shift) {
  UpdateWorkspace ws(k, d);
  return update_centroids(ws, x, n, d, weights, labels, dist, k, old_c, new_c, &sizes, shift);
}

double inertia_from_dist(const float* dist, const float* weights, std::size_t n) {
  const std::size_t nchunks = (n + kChunkRows - 1) / kChunkRows;
  std::vector<double> part(nchunks);
#pragma omp parallel for schedule(static)
  for (std::size_t c = 0; c < nchunks; ++c) {
    const std::size_t r0 = c * kChunkRows, m = std::min(kChunkRows, n - r0);
    part[c] = chunk_inertia(dist + r0, weights ? weights + r0 : nullptr, m);
  }
  double s = 0;
  for (std::size_t c = 0; c < nchunks; ++c) s += part[c];
  return s;
}

void report_progress(const RunInput& in, int iteration, double inertia, double shift) {
  if (!in.params || !in.params->progress) return;
  Progress p;
  p.run = in.run;
  p.iteration = iteration;
  p.inertia = inertia;
  p.shift = in.variance_mean > 0 ? shift / in.variance_mean : shift;
  p.rows_done = static_cast<std::uint64_t>(in.n) * static_cast<std::uint64_t>(iteration);
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - in.t0).count();
  if (!in.params->progress(p)) throw Error("cancelled");
}

}  // namespace personakit::detail
