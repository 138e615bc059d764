// personakit score: internal and external quality scores of a segmentation.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>

#include "cli.hpp"
#include "common.hpp"
#include "personakit/score.hpp"
#include "prep.hpp"

namespace personakit::cli {

namespace {

const std::vector<std::string> kInternal = {"inertia", "silhouette", "silhouette_simplified", "davies_bouldin",
                                            "calinski_harabasz"};
const std::vector<std::string> kExternal = {"ari", "nmi", "ami", "homogeneity", "completeness", "v_measure"};

bool is_external(const std::string& m) {
  return std::find(kExternal.begin(), kExternal.end(), m) != kExternal.end();
}

// Labels mapped to 0..K-1 in ascending order of the original values.
std::vector<std::int32_t> dense_labels(const std::vector<std::int32_t>& l, std::size_t* k) {
  std::vector<std::int32_t> vals(l.begin(), l.end());
  std::sort(vals.begin(), vals.end());
  vals.erase(std::unique(vals.begin(), vals.end()), vals.end());
  std::vector<std::int32_t> out(l.size());
  for (std::size_t i = 0; i < l.size(); ++i)
    out[i] = static_cast<std::int32_t>(std::lower_bound(vals.begin(), vals.end(), l[i]) - vals.begin());
  *k = vals.size();
  return out;
}

std::vector<std::int32_t> read_truth(const std::string& file, bool is_data_file) {
  try {
    return ds::read_labels(file, "/truth");
  } catch (const personakit::Error& e) {
    if (is_data_file) {
      std::string msg = e.what();
      fail(file, "no /truth dataset to compare with (pass --truth FILE.h5)");
    }
    try {
      return ds::read_labels(file, "/labels");
    } catch (const personakit::Error&) {
      fail(file, "holds neither /truth nor /labels");
    }
  }
}

}  // namespace

int run_score(const ScoreOptions& o, std::ostream& out, std::ostream& err) {
  (void)err;
  return guarded(err, [&]() -> int {
    Stopwatch clock;
    if (o.labels.empty() && o.model.empty()) usage("score needs --labels FILE.h5 or --model MODEL.h5");
    if (!o.labels.empty() && !o.model.empty()) usage("give --labels or --model, not both");

    // ---- which metrics ----
    std::vector<std::string> metrics;
    bool explicit_metrics = !o.metrics.empty();
    if (explicit_metrics) {
      for (auto m : split_list(lower(o.metrics), ',')) {
        if (m == "all") {
          metrics.insert(metrics.end(), kInternal.begin(), kInternal.end());
          metrics.insert(metrics.end(), kExternal.begin(), kExternal.end());
          continue;
        }
        if (m == "internal") {
          metrics.insert(metrics.end(), kInternal.begin(), kInternal.end());
          continue;
        }
        if (m == "external") {
          metrics.insert(metrics.end(), kExternal.begin(), kExternal.end());
          continue;
        }
        if (m == "v-measure") m = "v_measure";
        if (std::find(kInternal.begin(), kInternal.end(), m) == kInternal.end() && !is_external(m))
          usage("--metrics: unknown metric '" + m +
                "' (known: inertia silhouette silhouette_simplified davies_bouldin calinski_harabasz ari nmi ami "
                "homogeneity completeness v_measure)");
        if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
      }
    } else {
      metrics = kInternal;
      if (o.use_truth) metrics.insert(metrics.end(), kExternal.begin(), kExternal.end());
    }
    auto want = [&](const std::string& m) { return std::find(metrics.begin(), metrics.end(), m) != metrics.end(); };
    bool need_truth = std::any_of(metrics.begin(), metrics.end(), is_external);
    bool need_internal = std::any_of(metrics.begin(), metrics.end(), [](auto& m) { return !is_external(m); });

    require_file(o.data);
    // ---- labels (and centroids, transform) ----
    std::optional<ds::Model> model;
    std::vector<std::int32_t> labels;
    std::string labels_src;
    if (!o.model.empty()) {
      require_file(o.model);
      model = with_file(o.model, [&] { return ds::read_model(o.model); });
      if (model->labels.empty())
        fail(o.model, "holds no training labels (a streamed fit?): run predict and score --labels");
      labels = model->labels;
      labels_src = o.model;
    } else {
      require_file(o.labels);
      labels = with_file(o.labels, [&] { return ds::read_labels(o.labels, "/labels"); });
      labels_src = o.labels;
    }

    // ---- the rows (only when an internal score needs them) ----
    const ds::DatasetInfo info = with_file(o.data, [&] { return ds::probe(o.data, o.dataset); });
    const std::size_t n = info.rows, d = info.cols;
    if (model && model->d != d)
      fail("", o.data + ":" + o.dataset + " has " + std::to_string(d) + " features but the model " + o.model +
                       " was fitted on " + std::to_string(model->d));
    if (labels.size() != n)
      fail(labels_src, "has " + std::to_string(labels.size()) + " labels but " + o.data + ":" + o.dataset + " has " +
                           std::to_string(n) + " rows");
    std::vector<float> x;
    if (need_internal) {
      const ds::Transform* t = (model && !model->transform.empty()) ? &model->transform : nullptr;
      x = with_file(o.data, [&] { return ds::read_matrix(o.data, o.dataset, t); }).x;
    }

    std::vector<std::int32_t> truth;
    std::string truth_src;
    if (need_truth) {
      truth_src = o.truth.empty() ? o.data : o.truth;
      require_file(truth_src);
      truth = with_file(truth_src, [&] { return read_truth(truth_src, truth_src == o.data || same_file(truth_src, o.data)); });
      if (truth.size() != n)
        fail(truth_src, "has " + std::to_string(truth.size()) + " true labels but the data have " + std::to_string(n) +
                            " rows");
    }

    // ---- noise (label < 0) ----
    std::size_t noise = 0;
    for (auto l : labels) noise += l < 0;
    if (noise && !o.skip_noise)
      fail(labels_src, std::to_string(noise) + " rows have negative (noise) labels; pass --skip-noise to exclude them");
    std::size_t m = n;
    if (noise) {
      std::size_t w = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (labels[i] < 0) continue;
        if (!x.empty()) std::copy(x.begin() + std::ptrdiff_t(i * d), x.begin() + std::ptrdiff_t((i + 1) * d),
                                  x.begin() + std::ptrdiff_t(w * d));
        if (!truth.empty()) truth[w] = truth[i];
        labels[w++] = labels[i];
      }
      m = w;
      labels.resize(m);
      if (!x.empty()) x.resize(m * d);
      if (!truth.empty()) truth.resize(m);
    }
    if (m == 0) fail(labels_src, "every row is labelled as noise");

    std::size_t k = 0;
    const std::vector<std::int32_t> dense = dense_labels(labels, &k);
    // Centroids in the same (dense) label order: the model's, or the mean of each cluster.
    std::vector<float> centroids(k * d, 0.0f);
    if (need_internal) {
      if (model) {
        std::vector<std::int32_t> vals(labels.begin(), labels.end());
        std::sort(vals.begin(), vals.end());
        vals.erase(std::unique(vals.begin(), vals.end()), vals.end());
        for (std::size_t c = 0; c < k; ++c) {
          auto src = static_cast<std::size_t>(vals[c]);
          if (src >= model->k) fail(o.model, "label " + std::to_string(vals[c]) + " has no centroid");
          std::copy_n(model->centroids.begin() + std::ptrdiff_t(src * d), d, centroids.begin() + std::ptrdiff_t(c * d));
        }
      } else {
        std::vector<double> sums(k * d, 0.0);
        std::vector<double> cnt(k, 0.0);
        for (std::size_t i = 0; i < m; ++i) {
          auto c = static_cast<std::size_t>(dense[i]);
          cnt[c] += 1;
          for (std::size_t j = 0; j < d; ++j) sums[c * d + j] += x[i * d + j];
        }
        for (std::size_t c = 0; c < k; ++c)
          for (std::size_t j = 0; j < d; ++j) centroids[c * d + j] = static_cast<float>(sums[c * d + j] / cnt[c]);
      }
    }

    // ---- the scores ----
    nlohmann::ordered_json scores = nlohmann::ordered_json::object();
    std::vector<std::string> notes;
    auto guard = [&](const std::string& name, auto&& fn) {
      try {
        double v = fn();
        scores[name] = std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
      } catch (const personakit::Error& e) {
        scores[name] = nullptr;
        notes.push_back(name + ": " + e.what());
      }
    };
    const bool sampled = o.sample_size > 0 && o.sample_size < m;
    for (const auto& name : metrics) {
      if (name == "inertia")
        guard(name, [&] { return inertia(x.data(), m, d, dense.data(), centroids.data(), k); });
      else if (name == "silhouette")
        guard(name, [&] {
          return sampled ? silhouette_sampled(x.data(), m, d, dense.data(), o.sample_size, o.seed)
                         : silhouette(x.data(), m, d, dense.data()).mean;
        });
      else if (name == "silhouette_simplified")
        guard(name, [&] { return silhouette_simplified(x.data(), m, d, dense.data(), centroids.data(), k); });
      else if (name == "davies_bouldin")
        guard(name, [&] { return davies_bouldin(x.data(), m, d, dense.data()); });
      else if (name == "calinski_harabasz")
        guard(name, [&] { return calinski_harabasz(x.data(), m, d, dense.data()); });
      else if (name == "ari")
        guard(name, [&] { return adjusted_rand(truth.data(), labels.data(), m); });
      else if (name == "nmi")
        guard(name, [&] { return normalized_mutual_info(truth.data(), labels.data(), m); });
      else if (name == "ami")
        guard(name, [&] { return adjusted_mutual_info(truth.data(), labels.data(), m); });
    }
    if (want("homogeneity") || want("completeness") || want("v_measure")) {
      try {
        auto hc = homogeneity_completeness(truth.data(), labels.data(), m);
        if (want("homogeneity")) scores["homogeneity"] = hc.homogeneity;
        if (want("completeness")) scores["completeness"] = hc.completeness;
        if (want("v_measure")) scores["v_measure"] = hc.v_measure;
      } catch (const personakit::Error& e) {
        for (auto nm : {"homogeneity", "completeness", "v_measure"})
          if (want(nm)) scores[nm] = nullptr;
        notes.push_back(std::string("homogeneity/completeness: ") + e.what());
      }
    }
    // keep the requested order
    nlohmann::ordered_json ordered = nlohmann::ordered_json::object();
    for (const auto& name : metrics)
      if (scores.contains(name)) ordered[name] = scores[name];

    if (o.common.json) {
      nlohmann::ordered_json j;
      j["data"] = o.data;
      j["dataset"] = o.dataset;
      j["labels"] = labels_src;
      j["truth"] = need_truth ? nlohmann::ordered_json(truth_src) : nlohmann::ordered_json();
      j["n_samples"] = m;
      j["n_features"] = d;
      j["k"] = k;
      j["noise_rows"] = noise;
      j["silhouette_sample_size"] = sampled ? o.sample_size : 0;
      for (auto it = ordered.begin(); it != ordered.end(); ++it) j[it.key()] = it.value();
      j["seconds"] = clock.seconds();
      if (!notes.empty()) j["notes"] = notes;
      out << j.dump() << "\n";
    } else {
      out << "score " << o.data << ":" << o.dataset << "  " << format_count(double(m)) << " rows x " << d
          << " features, " << k << " clusters from " << labels_src;
      if (noise) out << " (" << noise << " noise rows excluded)";
      out << "\n";
      if (need_truth) out << "  truth: " << truth_src << "\n";
      for (auto it = ordered.begin(); it != ordered.end(); ++it) {
        out << "  " << std::left << std::setw(22) << it.key() << std::right << " ";
        if (it.value().is_null()) out << "n/a";
        else out << std::setprecision(8) << it.value().get<double>();
        if (it.key() == "silhouette" && sampled) out << "  (sample of " << o.sample_size << " rows, seed " << o.seed << ")";
        out << "\n";
      }
      for (auto& nt : notes) out << "  note: " << nt << "\n";
      out << "  time " << format_seconds(clock.seconds()) << "\n";
    }
    return kExitOk;
  });
}

}  // namespace personakit::cli
