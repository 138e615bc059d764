// Mini-batch k-means (Sculley 2010) with scikit-learn's rules for reassignment and
// early stopping, reading rows through a RowSource so it runs in memory or streamed.
//
// Batches: the rows are cut into blocks of R = clamp(batch_size / 16, 1, 256)
// consecutive rows; each epoch visits the blocks in a seeded random order (Fisher-Yates
// on a splitmix64 stream keyed by the run's seed and the epoch), and a batch is the next
// ceil(batch_size / R) blocks of that order: rows without replacement within an epoch,
// read in contiguous runs (cheap for HDF5).
// Update (per-centroid learning rate 1/count, weighted): for each centroid j hit by
// the batch, c_j <- (c_j * W_j + sum_{i in batch, l_i = j} w_i x_i) / (W_j + sum w_i),
// W_j += sum w_i, in fp64, rows in batch order: deterministic for any thread count
// (the assignment is parallel, the update sequential).
// Reassignment (scikit-learn's reassignment_ratio): after every 10 k rows seen (or when
// some W_j is 0), centroids with W_j < ratio * max W are moved to batch rows drawn
// with probability proportional to weight (at most batch_size / 2 of them, the
// lightest first), and their W_j set to the smallest W of the others.
// Stopping: max_steps, max_epochs, centroid shift sum ||dc||^2 <= tol_abs, or
// max_no_improvement steps without a new minimum of the smoothed batch inertia
// ewa = (1 - a) ewa + a * (batch inertia / batch rows), a = min(1, 2 B / (n + 1)); the
// first step is ignored (its inertia reflects the initialisation).
// Finish: `refine` exact Lloyd passes (streamed), then one exact pass: the reported
// inertia is always computed over all rows.
//
// Coreset mode (p.coreset = M > 0), a lightweight coreset (Bachem, Lucic & Krause 2018)
// in place of the Sculley steps:
//  1. pool: a seeded uniform sample of whole 256-row blocks, min(n, 8 M) rows, read
//     group by group; D_i^2 = squared distance of each pool row to its nearest initial
//     centroid (the tuned assignment kernel);
//  2. M i.i.d. draws from the pool with q_i = 1/2 w_i / sum w + 1/2 w_i D_i^2 / sum w D^2
//     (fp64 prefix sums, one sequential seeded stream), each with weight
//     (n / pool) w_i / (M q_i), so that weighted sums over the sample estimate sums over all
//     rows without bias; repeated draws of a row are merged (weights added);
//  3. exact weighted Lloyd on the sample from the initial centroids (run_lloyd: max_steps
//     iterations, 0 = max_iter; tol and strict convergence as Lloyd's);
//  4. the finish above. The rows the sample misses matter only through D^2: the
//     heavy tail that uniform batches undersample is drawn in proportion to its cost.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "kernel_table.hpp"
#include "kmeans/chunked.hpp"
#include "personakit/assign.hpp"
#include "personakit/error.hpp"

namespace personakit::detail {
namespace {
constexpr double kSerialStepWork = 16.0 * 1024 * 1024;  // m·k·d below which a step stays serial
}

namespace {

// `refine` exact Lloyd passes over all rows (streamed), then the exact inertia; fills
// the fields of `out` that come from them. steps: the mini-batch steps run before.
void finish_exact(RowSource& src, const RunInput& in, std::vector<float> c, std::uint64_t steps,
                  std::uint64_t lloyd_eq, RunOutput& out) {
  const KMeansParams& p = *in.params;
  const std::size_t n = in.n, k = c.size() / in.d;
  KMeansParams lp = p;
  lp.on_assignment = nullptr;
  RunInput lin = in;
  lin.params = &lp;
  if (in.x && p.refine == 0) {
    // Only the exact pass: labels, distances, inertia and sizes, without the update sums
    // a Lloyd pass also makes (~1/4 of its time). Per chunk, as Lloyd's in-memory pass
    // (same kernel calls, chunk inertia added in chunk order): the same bits.
    const std::size_t d = in.d, nchunks = (n + kChunkRows - 1) / kChunkRows;
    PackedCentroids pc;
    pc.pack(c.data(), k, d);
    std::vector<std::int32_t> lab;
    std::vector<float> dist;
    assign_huge(lab, n, std::int32_t{0});
    assign_huge(dist, n, 0.0f);
    std::vector<double> part(nchunks);
    std::vector<std::int64_t> sizes(k, 0);
#pragma omp parallel
    {
      std::vector<std::int64_t> sz(k, 0);
#pragma omp for schedule(static)
      for (std::size_t ch = 0; ch < nchunks; ++ch) {
        const std::size_t r0 = ch * kChunkRows, m = std::min(kChunkRows, n - r0);
        assign_nearest(in.x + r0 * d, m, d, nullptr, pc, lab.data() + r0, dist.data() + r0);
        part[ch] = chunk_inertia(dist.data() + r0, in.weights ? in.weights + r0 : nullptr, m);
        count_sizes(lab.data() + r0, m, sz.data());
      }
#pragma omp critical
      for (std::size_t j = 0; j < k; ++j) sizes[j] += sz[j];
    }
    double inertia = 0;
    for (const double v : part) inertia += v;
    out.centroids = std::move(c);
    out.labels = std::move(lab);
    out.sizes = std::move(sizes);
    out.inertia = inertia;
    out.distance_evaluations += static_cast<std::uint64_t>(n) * k;
    out.iterations = static_cast<int>(std::min<std::uint64_t>(steps, std::numeric_limits<int>::max()));
    out.lloyd_equivalent = lloyd_eq;
    out.state_bytes += n * 8;
    return;
  }
  // In memory the in-memory Lloyd (no block copies); streamed, one pass per refine step.
  // Both give the same bits.
  lp.max_iter = p.refine;
  const bool keep = in.x != nullptr || n <= (std::size_t{1} << 22);
  RunOutput fin = in.x ? run_lloyd(lin, std::move(c)) : run_lloyd_streamed(src, lin, std::move(c), keep, p.refine);
  out.centroids = std::move(fin.centroids);
  out.labels = std::move(fin.labels);
  out.sizes = std::move(fin.sizes);
  out.inertia = fin.inertia;
  out.distance_evaluations += fin.distance_evaluations;
  out.iterations = static_cast<int>(std::min<std::uint64_t>(steps, std::numeric_limits<int>::max()));
  if (fin.iterations > 0) out.converged = fin.converged || out.converged;
  out.lloyd_equivalent = lloyd_eq + static_cast<std::uint64_t>(n) * k * static_cast<std::uint64_t>(fin.iterations);
  out.state_bytes += fin.state_bytes;
}

std::string mib_text(std::size_t b) {
  return std::to_string((b + (std::size_t{1} << 20) - 1) >> 20) + " MiB";
}

RunOutput run_coreset(RowSource& src, const RunInput& in, std::vector<float> c) {
  const KMeansParams& p = *in.params;
  const std::size_t n = in.n, d = in.d, k = c.size() / d;
  const std::size_t M = p.coreset;
  if (M < k)
    throw Error("coreset of " + std::to_string(M) + " rows is smaller than k = " + std::to_string(k));
  if (M > (std::size_t{1} << 28))
    throw Error("coreset of " + std::to_string(M) + " rows is too large: use at most " + std::to_string(std::size_t{1} << 28));
  constexpr std::size_t R = 256;                      // rows per pool block
  const std::size_t nblocks = (n + R - 1) / R;
  const std::size_t want = std::min(n, 8 * M);
  const std::size_t pblocks = std::min(nblocks, (want + R - 1) / R);
  // State: pool D^2 and row ids, one group of pool rows, the sample (rows, norms,
  // weights, ids, labels, distances) and Lloyd's on it.
  const std::size_t G = 64;                           // pool blocks per read group
  const std::size_t state = pblocks * R * (4 + 8) + G * R * (d + 2) * 4 + M * (d * 4 + 4 + 4 + 8 + 4 + 4) +
                            2 * k * d * 8 + (std::size_t{1} << 20);
  if (p.memory_limit && state > p.memory_limit)
    throw Error("minibatch with a coreset of " + std::to_string(M) + " rows needs " + mib_text(state) +
                ", more than the memory limit of " + mib_text(p.memory_limit) + ": use a smaller --coreset");
  // More draws than 16 per row gain nothing and would only cost memory (16 B per draw).
  if (M > 16 * n)
    throw Error("coreset of " + std::to_string(M) + " rows is too large for " + std::to_string(n) +
                " rows: use at most " + std::to_string(16 * n));
  const std::uint64_t run_seed = splitmix64(p.seed + static_cast<std::uint64_t>(in.run));
  const float* w = in.weights;

  // 1. The pool: a seeded choice of pblocks blocks (partial Fisher-Yates), in file order.
  std::vector<std::uint32_t> blocks(nblocks);
  std::iota(blocks.begin(), blocks.end(), 0u);
  {
    Rng br(splitmix64(run_seed ^ 0xC0DE5E7B10C5ull));
    for (std::size_t i = 0; i < pblocks && i + 1 < nblocks; ++i) std::swap(blocks[i], blocks[i + br.below(nblocks - i)]);
  }
  blocks.resize(pblocks);
  std::sort(blocks.begin(), blocks.end());
  // Buffers on huge pages: in this VM a 4 KiB page fault costs ~10 us (internal.hpp).
  std::vector<std::uint64_t> rows;                    // pool row ids, ascending
  assign_huge(rows, pblocks * R, std::uint64_t{0});
  std::size_t P = 0;
  for (const auto b : blocks)
    for (std::size_t r = std::size_t{b} * R; r < std::min(n, (std::size_t{b} + 1) * R); ++r) rows[P++] = r;
  rows.resize(P);
  std::vector<float> D2, xg;
  assign_huge(D2, P, 0.0f);
  std::vector<std::int32_t> lg;
  PackedCentroids pc;
  pc.pack(c.data(), k, d);
  for (std::size_t g0 = 0; g0 < P; g0 += G * R) {
    const std::size_t m = std::min(G * R, P - g0);
    const float* xs;
    if (in.x && rows[g0 + m - 1] - rows[g0] + 1 == m) {
      xs = in.x + rows[g0] * d;                       // contiguous in memory
    } else {
      xg.resize(m * d);
      if (in.x) {
        for (std::size_t t = 0; t < m; ++t) std::memcpy(&xg[t * d], in.x + rows[g0 + t] * d, d * sizeof(float));
      } else {
        src.read_rows(rows.data() + g0, m, xg.data());
      }
      xs = xg.data();
    }
    lg.resize(m);
    assign_nearest(xs, m, d, nullptr, pc, lg.data(), D2.data() + g0);
  }
  RunOutput out;
  out.distance_evaluations = static_cast<std::uint64_t>(P) * k;
  std::uint64_t lloyd_eq = static_cast<std::uint64_t>(P) * k;

  // 2. The draws. q_i = (u_i + v_i) / 2 with u = w / sum w, v = w D^2 / sum w D^2.
  double sw = 0, swd = 0;
  for (std::size_t t = 0; t < P; ++t) {
    const double wi = w ? w[rows[t]] : 1.0;
    sw += wi;
    swd += wi * D2[t];
  }
  if (!(sw > 0)) throw Error("the coreset pool holds no row of positive weight");
  auto q_of = [&](std::size_t t) {
    const double wi = w ? w[rows[t]] : 1.0;
    return swd > 0 ? 0.5 * wi / sw + 0.5 * wi * D2[t] / swd : wi / sw;
  };
  // M sorted uniforms in [0, total) as normalised partial sums of M + 1 exponentials
  // (uniform order statistics), then one sweep of the running sum of q: the draws come
  // out in row order, with no per-draw binary search through an array of P sums.
  double total = 0;
  for (std::size_t t = 0; t < P; ++t) total += q_of(t);
  std::vector<double> us(M);
  {
    Rng dr(splitmix64(run_seed ^ 0x5A3B1E7D00C0FFEEull));
    double e = 0;
    for (std::size_t j = 0; j < M; ++j) us[j] = e += -std::log1p(-dr.uniform());
    e += -std::log1p(-dr.uniform());
    const double f = total / e;
    for (auto& u : us) u *= f;
  }
  std::vector<std::uint32_t> pick(M);
  {
    double acc = 0;
    std::size_t t = 0, last = P;                      // last: the last row with q > 0
    for (std::size_t j = 0; j < M; ++j) {
      while (t < P && acc + q_of(t) <= us[j]) {
        acc += q_of(t);
        if (q_of(t) > 0) last = t;
        ++t;
      }
      if (t < P && q_of(t) > 0) pick[j] = static_cast<std::uint32_t>(t);
      else if (last < P) pick[j] = static_cast<std::uint32_t>(last);  // rounding at the very end
      else throw Error("the coreset pool holds no row of positive weight");
    }
  }
  std::vector<double>().swap(us);
  std::vector<std::uint64_t> sid;                     // distinct sampled rows, ascending
  std::vector<float> sw_row;
  const double scale = static_cast<double>(n) / static_cast<double>(P) / static_cast<double>(M);
  for (std::size_t j = 0; j < M;) {
    std::size_t e = j;
    while (e < M && pick[e] == pick[j]) ++e;
    const std::size_t t = pick[j];
    const double wi = w ? w[rows[t]] : 1.0;
    sid.push_back(rows[t]);
    sw_row.push_back(static_cast<float>(static_cast<double>(e - j) * scale * wi / q_of(t)));
    j = e;
  }
  const std::size_t m = sid.size();
  if (m < k)
    throw Error("the coreset drew " + std::to_string(m) + " distinct rows, fewer than k = " + std::to_string(k) +
                ": use a larger --coreset");
  std::vector<float> xs, xn(m);
  assign_huge(xs, m * d, 0.0f);
  if (in.x) {
    for (std::size_t t = 0; t < m; ++t) std::memcpy(&xs[t * d], in.x + sid[t] * d, d * sizeof(float));
  } else {
    src.read_rows(sid.data(), m, xs.data());
  }
  row_norms(xs.data(), m, d, xn.data());

  // 3. Weighted Lloyd on the sample.
  KMeansParams cp = p;
  cp.on_assignment = nullptr;
  cp.max_iter = p.max_steps > 0 ? static_cast<int>(std::min<std::uint64_t>(p.max_steps, std::numeric_limits<int>::max()))
                                : p.max_iter;
  cp.weights = sw_row.data();
  RunInput cin = in;
  cin.x = xs.data();
  cin.n = m;
  cin.xnorm = xn.data();
  cin.weights = sw_row.data();
  cin.params = &cp;
  std::uint64_t steps = 0;
  if (cp.max_iter > 0) {
    RunOutput co = run_lloyd(cin, std::move(c));
    c = std::move(co.centroids);
    steps = static_cast<std::uint64_t>(co.iterations);
    out.converged = co.converged;
    out.distance_evaluations += co.distance_evaluations;
    lloyd_eq += steps * m * k;
  }
  out.state_bytes = state;
  finish_exact(src, in, std::move(c), steps, lloyd_eq, out);
  return out;
}

}  // namespace

RunOutput run_minibatch(RowSource& src, const RunInput& in, std::vector<float> c) {
  if (in.params->coreset > 0) return run_coreset(src, in, std::move(c));
  const KMeansParams& p = *in.params;
  const std::size_t n = in.n, d = in.d, k = c.size() / d;
  const std::size_t B = std::min<std::size_t>(std::max<std::size_t>(p.batch_size, 1), n);
  const std::size_t R = std::clamp<std::size_t>(B / 16, 1, 256);
  const std::size_t nblocks = (n + R - 1) / R;
  const std::size_t per_batch = std::max<std::size_t>(1, (B + R - 1) / R);
  const std::size_t steps_per_epoch = (nblocks + per_batch - 1) / per_batch;
  std::uint64_t max_steps = p.max_epochs > 0 ? static_cast<std::uint64_t>(p.max_epochs) * steps_per_epoch
                                             : std::numeric_limits<std::uint64_t>::max();
  if (p.max_steps > 0) max_steps = std::min<std::uint64_t>(max_steps, p.max_steps);
  const std::uint64_t run_seed = splitmix64(p.seed + static_cast<std::uint64_t>(in.run));
  Rng rng(splitmix64(run_seed ^ 0x3C6EF372FE94F82Bull));  // reassignment draws
  const float* w = in.weights;

  const KernelTable& kt = kernel_table();  // dispatch once per fit
  RunOutput out;
  std::vector<std::uint32_t> order(nblocks);
  std::vector<std::uint64_t> idx;
  std::vector<float> xb, wb, dist;
  std::vector<std::int32_t> lab;
  std::vector<double> W(k, 0.0), sums(k * d), bw(k);
  std::vector<float> old;
  PackedCentroids pc;
  double ewa = 0, ewa_min = std::numeric_limits<double>::infinity();
  bool have_ewa = false;
  int no_improve = 0;
  std::uint64_t rows_done = 0, since_reassign = 0, lloyd_eq = 0;
  const double alpha = std::min(1.0, 2.0 * static_cast<double>(B) / static_cast<double>(n + 1));
  std::uint64_t step = 0;
  std::size_t pos = nblocks;  // position in the epoch's order (nblocks: start a new epoch)
  std::uint64_t epoch = 0;
  const std::uint64_t report_every = std::max<std::uint64_t>(1, steps_per_epoch / 10);

  for (; step < max_steps; ++step) {
    if (pos >= nblocks) {
      std::iota(order.begin(), order.end(), 0u);
      Rng er(splitmix64(run_seed + 0x9E3779B9ull * (epoch + 1)));
      for (std::size_t i = nblocks; i > 1; --i) std::swap(order[i - 1], order[er.below(i)]);
      pos = 0;
      ++epoch;
    }
    // The batch: blocks order[pos .. pos+per_batch), rows sorted ascending.
    const std::size_t nbk = std::min(per_batch, nblocks - pos);
    std::vector<std::uint32_t> blocks(order.begin() + static_cast<std::ptrdiff_t>(pos),
                                      order.begin() + static_cast<std::ptrdiff_t>(pos + nbk));
    pos += nbk;
    std::sort(blocks.begin(), blocks.end());
    idx.clear();
    for (const auto b : blocks)
      for (std::size_t r = static_cast<std::size_t>(b) * R; r < std::min(n, (static_cast<std::size_t>(b) + 1) * R); ++r) idx.push_back(r);
    const std::size_t m = idx.size();
    xb.resize(m * d);
    if (in.x) {
      // Whole blocks of R consecutive rows: one copy each.
      std::size_t t = 0;
      for (const auto b : blocks) {
        const std::size_t r0 = static_cast<std::size_t>(b) * R, r1 = std::min(n, r0 + R);
        std::memcpy(&xb[t * d], in.x + r0 * d, (r1 - r0) * d * sizeof(float));
        t += r1 - r0;
      }
    } else {
      src.read_rows(idx.data(), m, xb.data());
    }
    wb.resize(m);
    for (std::size_t t = 0; t < m; ++t) wb[t] = w ? w[idx[t]] : 1.0f;
    dist.resize(m);
    lab.resize(m);
    pc.pack(c.data(), k, d);
    // Norms on the fly (the kernel's canonical values, from the row tile it loads).
    // A small batch runs on this thread: below ~2^24 multiply-adds (4096 rows at
    // k = 64, d = 16: ~50 us) waking the other threads for each step costs more than
    // it saves (measured: 121 vs 177 us per step on the 2-core machine).
    if (static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(d) < kSerialStepWork)
      kt.nearest(xb.data(), m, d, nullptr, pc, lab.data(), dist.data());
    else
      assign_nearest(xb.data(), m, d, nullptr, pc, lab.data(), dist.data());
    out.distance_evaluations += static_cast<std::uint64_t>(m) * k;
    lloyd_eq += static_cast<std::uint64_t>(m) * k;
    double batch_inertia = 0, batch_w = 0;
    for (std::size_t t = 0; t < m; ++t) {
      batch_inertia += static_cast<double>(wb[t]) * dist[t];
      batch_w += wb[t];
    }

    // Sculley update, per-centroid counts.
    old = c;
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(bw.begin(), bw.end(), 0.0);
    for (std::size_t t = 0; t < m; ++t) {
      const std::size_t l = static_cast<std::size_t>(lab[t]);
      const double wt = wb[t];
      if (!(wt > 0)) continue;
      bw[l] += wt;
      for (std::size_t j = 0; j < d; ++j) sums[l * d + j] += wt * xb[t * d + j];
    }
    for (std::size_t l = 0; l < k; ++l) {
      if (!(bw[l] > 0)) continue;
      const double tot = W[l] + bw[l];
      for (std::size_t j = 0; j < d; ++j)
        c[l * d + j] = static_cast<float>((static_cast<double>(c[l * d + j]) * W[l] + sums[l * d + j]) / tot);
      W[l] = tot;
    }

    // Reassignment of starving centroids.
    rows_done += m;
    since_reassign += m;
    const bool any_zero = std::any_of(W.begin(), W.end(), [](double v) { return !(v > 0); });
    if (p.reassignment_ratio > 0 && (any_zero || since_reassign >= 10 * k)) {
      since_reassign = 0;
      const double wmax = *std::max_element(W.begin(), W.end());
      std::vector<std::size_t> starving;
      for (std::size_t l = 0; l < k; ++l)
        if (W[l] < p.reassignment_ratio * wmax) starving.push_back(l);
      const std::size_t cap = std::max<std::size_t>(1, m / 2);
      if (starving.size() > cap) {
        std::stable_sort(starving.begin(), starving.end(), [&](std::size_t a, std::size_t b) { return W[a] < W[b]; });
        starving.resize(cap);
        std::sort(starving.begin(), starving.end());
      }
      if (!starving.empty() && starving.size() < k) {
        double wmin_other = std::numeric_limits<double>::infinity();
        std::vector<char> is_st(k, 0);
        for (auto l : starving) is_st[l] = 1;
        for (std::size_t l = 0; l < k; ++l)
          if (!is_st[l]) wmin_other = std::min(wmin_other, W[l]);
        // Batch rows by weight, without replacement (sequential draws).
        std::vector<double> avail(wb.begin(), wb.end());
        double total = std::accumulate(avail.begin(), avail.end(), 0.0);
        for (const auto l : starving) {
          if (!(total > 0)) break;
          const double r = rng.uniform() * total;
          double s = 0;
          std::size_t pick = m;
          for (std::size_t t = 0; t < m; ++t) {
            if (!(avail[t] > 0)) continue;
            s += avail[t];
            pick = t;
            if (s > r) break;
          }
          if (pick == m) break;
          std::memcpy(&c[l * d], &xb[pick * d], d * sizeof(float));
          W[l] = wmin_other;
          total -= avail[pick];
          avail[pick] = 0;
        }
      }
    }

    double shift = 0;
    for (std::size_t e = 0; e < k * d; ++e) {
      const double dv = static_cast<double>(c[e]) - old[e];
      shift += dv * dv;
    }
    bool stop = false;
    if (step > 0 && batch_w > 0) {
      const double bi = batch_inertia / batch_w;
      ewa = have_ewa ? ewa * (1 - alpha) + bi * alpha : bi;
      have_ewa = true;
      if (ewa < ewa_min) { ewa_min = ewa; no_improve = 0; }
      else if (++no_improve >= p.max_no_improvement && p.max_no_improvement > 0) stop = true;
    }
    if (in.tol_abs > 0 && shift <= in.tol_abs) stop = true;
    if (p.progress && (step % report_every == 0 || stop || step + 1 == max_steps)) {
      Progress pr;
      pr.run = in.run;
      pr.iteration = static_cast<int>(step + 1);
      pr.inertia = batch_w > 0 ? batch_inertia / batch_w : 0;
      pr.shift = in.variance_mean > 0 ? shift / in.variance_mean : shift;
      pr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - in.t0).count();
      pr.rows_done = rows_done;
      if (!p.progress(pr)) throw Error("cancelled");
    }
    if (stop) {
      out.converged = true;
      ++step;
      break;
    }
  }

  // Exact finishing passes over all rows (streamed), then the exact inertia.
  out.state_bytes = (k * d + k) * 8 + B * (d + 3) * 4;
  finish_exact(src, in, std::move(c), step, lloyd_eq, out);
  return out;
}

}  // namespace personakit::detail
