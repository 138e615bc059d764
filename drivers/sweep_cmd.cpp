// personakit sweep: fit a range of K and report the scores that help choose K.
//
// Elbow rules (both on the inertia curve I(K), K ascending, at least 3 values):
//  * second difference: the K maximising the drop in slope,
//      (I(K-) - I(K)) / (K - K-)  -  (I(K) - I(K+)) / (K+ - K)
//    (with unit steps: I(K-1) - 2 I(K) + I(K+1)); the ends have no second difference.
//  * kneedle (Satopaa et al. 2011, no smoothing): normalise K and I to [0, 1], flip
//    the decreasing convex curve into y = 1 - I_norm, and take the K maximising
//    y - K_norm (the point farthest above the chord from the first to the last K).
// Best K: highest silhouette, highest Calinski-Harabasz, lowest Davies-Bouldin.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "cli.hpp"
#include "common.hpp"
#include "fit_common.hpp"
#include "personakit/kmeans.hpp"
#include "personakit/score.hpp"
#include "prep.hpp"

namespace personakit::cli {

namespace {

struct Row {
  std::size_t k = 0;
  double inertia = 0;
  std::optional<double> silhouette, ch, db;
  int iterations = 0;
  bool converged = false;
  double seconds = 0;
};

template <class Get>
std::optional<std::size_t> best_k(const std::vector<Row>& r, Get get, bool maximise) {
  std::optional<std::size_t> at;
  double best = 0;
  for (auto& x : r) {
    std::optional<double> v = get(x);
    if (!v) continue;
    if (!at || (maximise ? *v > best : *v < best)) {
      best = *v;
      at = x.k;
    }
  }
  return at;
}

nlohmann::ordered_json opt(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}
nlohmann::ordered_json opt(const std::optional<std::size_t>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}
std::string csv(const std::optional<double>& v) { return v && std::isfinite(*v) ? json_number(*v) : ""; }

}  // namespace

std::size_t elbow_second_difference(const std::vector<std::size_t>& ks, const std::vector<double>& inertia) {
  if (ks.size() < 3 || inertia.size() != ks.size()) return 0;
  double best = -std::numeric_limits<double>::infinity();
  std::size_t at = 0;
  for (std::size_t i = 1; i + 1 < ks.size(); ++i) {
    double left = (inertia[i - 1] - inertia[i]) / double(ks[i] - ks[i - 1]);
    double right = (inertia[i] - inertia[i + 1]) / double(ks[i + 1] - ks[i]);
    if (left - right > best) {
      best = left - right;
      at = ks[i];
    }
  }
  return at;
}

std::size_t elbow_kneedle(const std::vector<std::size_t>& ks, const std::vector<double>& inertia) {
  if (ks.size() < 3 || inertia.size() != ks.size()) return 0;
  const double kmin = double(ks.front()), kmax = double(ks.back());
  const double imin = *std::min_element(inertia.begin(), inertia.end());
  const double imax = *std::max_element(inertia.begin(), inertia.end());
  if (!(imax > imin) || !(kmax > kmin)) return 0;
  double best = -std::numeric_limits<double>::infinity();
  std::size_t at = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) {
    const double kn = (double(ks[i]) - kmin) / (kmax - kmin);
    const double y = 1.0 - (inertia[i] - imin) / (imax - imin);
    if (y - kn > best) {
      best = y - kn;
      at = ks[i];
    }
  }
  return at;
}

int run_sweep(const SweepOptions& o, std::ostream& out, std::ostream& err) {
  return guarded(err, [&]() -> int {
    Stopwatch clock;
    const auto ks = parse_k_range(o.k_range);
    const Algorithm algo = algorithm_option(o.algorithm);
    if (o.silhouette != "exact" && o.silhouette != "sampled" && o.silhouette != "none")
      usage("--silhouette '" + o.silhouette + "': expected exact, sampled or none");
    if (o.silhouette == "sampled" && o.sample_size < 2) usage("--sample-size must be at least 2");
    if (o.max_iter < 0) usage("--max-iter must be >= 0");
    if (!(o.tol >= 0)) usage("--tol must be >= 0");
    if (o.n_init < 1) usage("--n-init must be at least 1");
    (void)scale_option(o.scale);
    if (!o.csv.empty()) check_output_path(o.csv);
    if (!o.json_output.empty()) check_output_path(o.json_output);
    for (const auto& outp : {o.csv, o.json_output})
      if (!outp.empty() && same_file(outp, o.data)) usage(outp + ": would overwrite the input data");

    Prepared p = prepare_in_memory(o.data, o.dataset, o.scale, o.log1p, o.seed);
    const std::size_t n = p.m.n, d = p.m.d;
    const float* x = p.m.x.data();
    if (ks.back() > n)
      fail(o.data, "k = " + std::to_string(ks.back()) + " but the data have only " + std::to_string(n) + " rows");
    check_distinct_rows(o.data, x, n, d, ks.back());

    ProgressPrinter progress(err, o.common);
    std::vector<Row> rows;
    for (std::size_t idx = 0; idx < ks.size(); ++idx) {
      progress.check_cancel();
      const std::size_t k = ks[idx];
      KMeansParams kp;
      kp.k = k;
      kp.algorithm = algo;
      kp.init = Init::kmeanspp;
      kp.max_iter = o.max_iter;
      kp.tol = o.tol;
      kp.n_init = o.n_init;
      kp.seed = o.seed;
      kp.progress = fit_progress(err, o.common, o.n_init, "sweep k=" + std::to_string(k));
      kp.progress_inertia = !o.common.quiet;
      Stopwatch one;
      KMeansResult r = with_file(o.data, [&] { return fit(x, n, d, kp); });
      Row row;
      row.k = k;
      row.inertia = r.inertia;
      row.iterations = r.iterations;
      row.converged = r.converged;
      const bool scorable = k >= 2 && k + 1 <= n;
      if (scorable) {
        // A score the library refuses (e.g. an empty cluster) is left out, not fatal.
        try {
          if (o.silhouette == "exact") row.silhouette = silhouette(x, n, d, r.labels.data()).mean;
          else if (o.silhouette == "sampled")
            row.silhouette = silhouette_sampled(x, n, d, r.labels.data(), std::min(o.sample_size, n), o.seed);
        } catch (const personakit::Error&) {
        }
        try {
          row.ch = calinski_harabasz(x, n, d, r.labels.data());
        } catch (const personakit::Error&) {
        }
        try {
          row.db = davies_bouldin(x, n, d, r.labels.data());
        } catch (const personakit::Error&) {
        }
      }
      row.seconds = one.seconds();
      rows.push_back(row);
      std::ostringstream line;
      line << "sweep: k " << k << " (" << idx + 1 << "/" << ks.size() << ")  inertia " << std::setprecision(7)
           << row.inertia;
      if (row.silhouette) line << "  silhouette " << std::setprecision(4) << *row.silhouette;
      line << "  elapsed " << std::fixed << std::setprecision(1) << clock.seconds() << " s";
      progress.line(clock.seconds(), line.str());
    }

    std::vector<std::size_t> kv;
    std::vector<double> iv;
    for (auto& r : rows) {
      kv.push_back(r.k);
      iv.push_back(r.inertia);
    }
    std::optional<std::size_t> e2, ek;
    if (auto e = elbow_second_difference(kv, iv)) e2 = e;
    if (auto e = elbow_kneedle(kv, iv)) ek = e;
    const auto bs = best_k(rows, [](const Row& r) { return r.silhouette; }, true);
    const auto bch = best_k(rows, [](const Row& r) { return r.ch; }, true);
    const auto bdb = best_k(rows, [](const Row& r) { return r.db; }, false);

    nlohmann::ordered_json j;
    j["data"] = o.data;
    j["dataset"] = o.dataset;
    j["n_samples"] = n;
    j["n_features"] = d;
    j["algorithm"] = algorithm_name(algo);
    j["silhouette_mode"] = o.silhouette;
    if (o.silhouette == "sampled") j["sample_size"] = std::min(o.sample_size, n);
    j["scale"] = ds::scale_name(p.t.scale);
    j["seed"] = o.seed;
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (auto& r : rows) {
      nlohmann::ordered_json e;
      e["k"] = r.k;
      e["inertia"] = r.inertia;
      e["silhouette"] = opt(r.silhouette);
      e["calinski_harabasz"] = opt(r.ch);
      e["davies_bouldin"] = opt(r.db);
      e["iterations"] = r.iterations;
      e["converged"] = r.converged;
      e["seconds"] = r.seconds;
      arr.push_back(e);
    }
    j["results"] = arr;
    j["elbow"] = {{"second_difference", opt(e2)}, {"kneedle", opt(ek)}};
    j["best_k"] = {{"silhouette", opt(bs)}, {"calinski_harabasz", opt(bch)}, {"davies_bouldin", opt(bdb)}};
    j["seconds"] = clock.seconds();

    if (!o.csv.empty()) {
      std::ostringstream c;
      c << "k,inertia,silhouette,calinski_harabasz,davies_bouldin,iterations,converged,seconds\n";
      for (auto& r : rows)
        c << r.k << "," << json_number(r.inertia) << "," << csv(r.silhouette) << "," << csv(r.ch) << ","
          << csv(r.db) << "," << r.iterations << "," << (r.converged ? 1 : 0) << "," << json_number(r.seconds)
          << "\n";
      write_file_atomic(o.csv, c.str());
    }
    if (!o.json_output.empty()) write_file_atomic(o.json_output, j.dump(2) + "\n");

    if (o.common.json) {
      out << j.dump() << "\n";
    } else {
      out << "sweep " << o.data << ":" << o.dataset << "  " << format_count(double(n)) << " rows x " << d
          << " features, algorithm " << algorithm_name(algo) << ", silhouette " << o.silhouette << "\n";
      out << std::setw(6) << "k" << std::setw(16) << "inertia" << std::setw(12) << "silhouette" << std::setw(16)
          << "calinski_h" << std::setw(12) << "davies_b" << std::setw(7) << "iters" << std::setw(10) << "seconds"
          << "\n";
      auto cell = [](const std::optional<double>& v, int w, int prec) {
        std::ostringstream s;
        if (v) s << std::setprecision(prec) << *v;
        else s << "-";
        std::string t = s.str();
        return std::string(std::size_t(std::max(0, w - int(t.size()))), ' ') + t;
      };
      for (auto& r : rows)
        out << std::setw(6) << r.k << cell(r.inertia, 16, 8) << cell(r.silhouette, 12, 4) << cell(r.ch, 16, 7)
            << cell(r.db, 12, 4) << std::setw(7) << r.iterations << std::setw(10) << std::fixed
            << std::setprecision(3) << r.seconds << std::defaultfloat << "\n";
      auto k_or_dash = [](const std::optional<std::size_t>& v) { return v ? std::to_string(*v) : std::string("-"); };
      out << "elbow: " << k_or_dash(e2) << " (max second difference), " << k_or_dash(ek) << " (kneedle)\n";
      out << "best k: silhouette " << k_or_dash(bs) << ", calinski-harabasz " << k_or_dash(bch)
          << ", davies-bouldin " << k_or_dash(bdb) << "\n";
      if (!o.csv.empty()) out << "csv written to " << o.csv << "\n";
    }
    return kExitOk;
  });
}

}  // namespace personakit::cli
