// personakit info: describe a data, model or labels file.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "cli.hpp"
#include "common.hpp"
#include "prep.hpp"

namespace personakit::cli {

namespace {

nlohmann::ordered_json transform_json(const ds::Transform& t, const std::vector<std::string>& names) {
  nlohmann::ordered_json j;
  j["scale"] = ds::scale_name(t.scale);
  std::vector<std::string> cols;
  for (int c : t.log1p_cols)
    cols.push_back(static_cast<std::size_t>(c) < names.size() ? names[static_cast<std::size_t>(c)]
                                                               : std::to_string(c));
  j["log1p"] = cols;
  if (t.scale != ds::Transform::Scale::none) {
    j["center"] = t.center;
    j["scale_by"] = t.scale_by;
  }
  return j;
}

std::string fmt(double v) {
  if (std::isnan(v)) return "nan";
  std::ostringstream s;
  s << std::setprecision(6) << v;
  return s.str();
}

void print_attrs(std::ostream& out, const nlohmann::json& attrs) {
  for (auto it = attrs.begin(); it != attrs.end(); ++it) {
    out << "  " << std::left << std::setw(22) << it.key() << std::right << " ";
    if (it->is_string()) out << it->get<std::string>();
    else out << it->dump();
    out << "\n";
  }
}

}  // namespace

int run_info(const InfoOptions& o, std::ostream& out, std::ostream& err) {
  (void)err;
  return guarded(err, [&]() -> int {
    require_file(o.file);
    // What is this file? A data matrix, a model (has /centroids), or labels (/labels only).
    std::optional<ds::Model> model;
    std::optional<std::vector<std::int32_t>> labels;
    std::string dataset = o.dataset;
    if (dataset.empty()) {
      try {
        (void)ds::probe(o.file, "/features");
        dataset = "/features";
      } catch (const personakit::Error& first) {
        try {
          model = ds::read_model(o.file);
          dataset = "/centroids";
        } catch (const personakit::Error&) {
          try {
            labels = ds::read_labels(o.file, "/labels");
          } catch (const personakit::Error&) {
            throw first;  // not data, not a model, not labels: the first complaint is the clearest
          }
        }
      }
    } else {
      try {
        model = ds::read_model(o.file);
      } catch (const personakit::Error&) {
        model.reset();
      }
    }

    nlohmann::ordered_json j;
    j["file"] = o.file;
    if (labels) {
      // A labels file (predict's output): count per label.
      std::map<std::int32_t, std::int64_t> counts;
      for (auto l : *labels) ++counts[l];
      j["kind"] = "labels";
      j["rows"] = labels->size();
      nlohmann::ordered_json c = nlohmann::ordered_json::object();
      for (auto& [l, cnt] : counts) c[std::to_string(l)] = cnt;
      j["label_counts"] = c;
      if (o.common.json) {
        out << j.dump() << "\n";
      } else {
        out << o.file << ": labels file, " << format_count(double(labels->size())) << " rows, "
            << counts.size() << " distinct labels\n  label      count\n";
        for (auto& [l, cnt] : counts) out << "  " << std::setw(5) << l << "  " << std::setw(9) << cnt << "\n";
      }
      return kExitOk;
    }

    const ds::DatasetInfo info = with_file(o.file, [&] { return ds::probe(o.file, dataset); });
    const auto stats = with_file(o.file, [&] { return ds::column_stats(o.file, dataset); });
    std::uint64_t nonfinite = 0;
    for (auto& s : stats) nonfinite += s.nonfinite;
    std::vector<std::string> names;
    for (std::size_t c = 0; c < info.cols; ++c)
      names.push_back(c < stats.size() && !stats[c].name.empty() ? stats[c].name : "f" + std::to_string(c));

    j["kind"] = model ? "model" : "data";
    j["dataset"] = dataset;
    j["rows"] = info.rows;
    j["cols"] = info.cols;
    j["dtype"] = info.dtype;
    j["chunk_rows"] = info.chunk_rows;
    j["feature_names"] = info.feature_names;
    j["has_truth"] = info.has_truth;
    j["has_customer_ids"] = info.has_ids;
    j["nonfinite"] = nonfinite;
    nlohmann::ordered_json feats = nlohmann::ordered_json::array();
    for (std::size_t c = 0; c < stats.size(); ++c) {
      nlohmann::ordered_json f;
      f["name"] = names[c];
      f["min"] = std::isfinite(stats[c].min) ? nlohmann::ordered_json(stats[c].min) : nlohmann::ordered_json();
      f["mean"] = std::isfinite(stats[c].mean) ? nlohmann::ordered_json(stats[c].mean) : nlohmann::ordered_json();
      f["max"] = std::isfinite(stats[c].max) ? nlohmann::ordered_json(stats[c].max) : nlohmann::ordered_json();
      f["nonfinite"] = stats[c].nonfinite;
      feats.push_back(f);
    }
    j["features"] = feats;
    if (model) {
      nlohmann::ordered_json mj;
      mj["k"] = model->k;
      mj["d"] = model->d;
      mj["cluster_sizes"] = model->sizes;
      mj["has_labels"] = !model->labels.empty();
      mj["feature_names"] = model->feature_names;
      mj["transform"] = transform_json(model->transform, model->feature_names);
      mj["attributes"] = model->attrs;
      j["model"] = mj;
    }

    if (o.common.json) {
      out << j.dump() << "\n";
      return kExitOk;
    }
    out << o.file << ":" << dataset << "  " << format_count(double(info.rows)) << " rows x " << info.cols
        << " " << (model ? "centroid features" : "features") << "  " << info.dtype;
    if (info.chunk_rows) out << "  (chunks of " << info.chunk_rows << " rows)";
    out << "\n";
    if (!model)
      out << "  /truth " << (info.has_truth ? "yes" : "no") << "   /customer_ids " << (info.has_ids ? "yes" : "no")
          << "   /feature_names " << (info.feature_names.empty() ? "no" : "yes") << "\n";
    out << "  NaN/Inf values: " << nonfinite << "\n";
    std::size_t w = 8;
    for (auto& nm : names) w = std::max(w, nm.size());
    out << "  " << std::left << std::setw(int(w)) << "feature" << std::right << std::setw(14) << "min"
        << std::setw(14) << "mean" << std::setw(14) << "max" << std::setw(10) << "nan/inf" << "\n";
    for (std::size_t c = 0; c < stats.size(); ++c)
      out << "  " << std::left << std::setw(int(w)) << names[c] << std::right << std::setw(14) << fmt(stats[c].min)
          << std::setw(14) << fmt(stats[c].mean) << std::setw(14) << fmt(stats[c].max) << std::setw(10)
          << stats[c].nonfinite << "\n";
    if (model) {
      out << "model: k " << model->k << ", d " << model->d << ", training labels "
          << (model->labels.empty() ? "absent" : "stored") << "\n  cluster sizes:";
      for (auto s : model->sizes) out << " " << s;
      out << "\n  preprocessing: scale " << ds::scale_name(model->transform.scale);
      if (!model->transform.log1p_cols.empty()) {
        out << ", log1p";
        for (int c : model->transform.log1p_cols)
          out << " "
              << (static_cast<std::size_t>(c) < model->feature_names.size()
                      ? model->feature_names[static_cast<std::size_t>(c)]
                      : std::to_string(c));
      }
      out << "\nattributes:\n";
      print_attrs(out, model->attrs);
    }
    return kExitOk;
  });
}

}  // namespace personakit::cli
