// `personakit bench compare A.json B.json` and the suites' target checks.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "bench_cmd.hpp"
#include "cli.hpp"
#include "common.hpp"
#include "personakit/error.hpp"

namespace personakit::bench {

Verdict compare_times(double med_a, double min_a, double max_a, double med_b, double min_b, double max_b,
                      double floor) {
  Verdict v;
  v.ratio = med_a > 0 ? med_b / med_a : std::nan("");
  // Noise: both runs' observed spreads added, never less than `floor` of the baseline.
  v.threshold = std::max((max_a - min_a) + (max_b - min_b), floor * med_a);
  const double diff = med_b - med_a;
  if (!std::isfinite(diff))
    v.verdict = "n/a";
  else if (std::fabs(diff) <= v.threshold)
    v.verdict = "no change";
  else
    v.verdict = diff < 0 ? "faster" : "slower";
  return v;
}

namespace {

ojson load_result(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw personakit::Error(path + ": cannot open");
  ojson j;
  try {
    j = ojson::parse(f);
  } catch (const std::exception& e) {
    throw personakit::Error(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("cases") || !j["cases"].is_array())
    throw personakit::Error(path + ": not a personakit bench result (no \"cases\" list)");
  return j;
}

std::string f3(double v, int p = 3) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream o;
  o << std::setprecision(p) << v;
  return o.str();
}

}  // namespace

int run_compare(const CompareOptions& o, std::ostream& out, std::ostream& err) {
  return cli::guarded(err, [&]() -> int {
    ojson a = load_result(o.a), b = load_result(o.b);
    std::map<std::string, ojson> ca;
    for (const auto& c : a["cases"])
      if (c.value("status", "") == "ok") ca[c["id"].get<std::string>()] = c;
    ojson rows = ojson::array();
    std::map<std::string, int> tally;
    std::vector<std::string> seen;
    for (const auto& c : b["cases"]) {
      const std::string id = c["id"].get<std::string>();
      seen.push_back(id);
      ojson r;
      r["id"] = id;
      auto it = ca.find(id);
      if (c.value("status", "") != "ok" || it == ca.end()) {
        r["verdict"] = it == ca.end() ? "only in B" : "not ok in B";
        rows.push_back(r);
        ++tally[r["verdict"].get<std::string>()];
        continue;
      }
      const ojson& x = it->second;
      const auto& sa = x["seconds"];
      const auto& sb = c["seconds"];
      Verdict v = compare_times(sa["median"].get<double>(), sa["min"].get<double>(), sa["max"].get<double>(),
                                sb["median"].get<double>(), sb["min"].get<double>(), sb["max"].get<double>(),
                                o.floor);
      r["a_median"] = sa["median"];
      r["b_median"] = sb["median"];
      r["ratio"] = v.ratio;
      r["noise_seconds"] = v.threshold;
      r["verdict"] = v.verdict;
      if (x.contains("iterations") && c.contains("iterations") && x["iterations"] != c["iterations"])
        r["note"] = "iterations differ: " + x["iterations"].dump() + " -> " + c["iterations"].dump();
      // Per-iteration ratio too: an algorithm change can alter the iteration count.
      if (x.contains("seconds_per_iteration") && c.contains("seconds_per_iteration"))
        r["ratio_per_iteration"] = c["seconds_per_iteration"]["median"].get<double>() /
                                   x["seconds_per_iteration"]["median"].get<double>();
      ++tally[v.verdict];
      rows.push_back(r);
    }
    for (const auto& [id, c] : ca)
      if (std::find(seen.begin(), seen.end(), id) == seen.end()) {
        rows.push_back(ojson{{"id", id}, {"verdict", "only in A"}});
        ++tally["only in A"];
      }
    ojson doc;
    doc["a"] = o.a;
    doc["b"] = o.b;
    doc["a_commit"] = a.value("environment", ojson::object()).value("git_commit", "unknown");
    doc["b_commit"] = b.value("environment", ojson::object()).value("git_commit", "unknown");
    doc["rule"] = "no change when |median_B - median_A| <= (max_A - min_A) + (max_B - min_B) or <= floor x median_A";
    doc["floor"] = o.floor;
    doc["cases"] = rows;
    doc["summary"] = tally;
    const bool slower = tally.count("slower") > 0;
    if (o.json) {
      out << doc.dump() << "\n";
    } else {
      out << "A: " << o.a << " (" << doc["a_commit"].get<std::string>() << ")\n"
          << "B: " << o.b << " (" << doc["b_commit"].get<std::string>() << ")\n";
      std::size_t w = 4;
      for (const auto& r : rows) w = std::max(w, r["id"].get<std::string>().size());
      out << std::left << std::setw(int(w)) << "case" << std::right << "  " << std::setw(10) << "A median s"
          << "  " << std::setw(10) << "B median s" << "  " << std::setw(7) << "B/A" << "  " << std::setw(9)
          << "noise s" << "  verdict\n";
      for (const auto& r : rows) {
        out << std::left << std::setw(int(w)) << r["id"].get<std::string>() << std::right;
        if (r.contains("ratio")) {
          out << "  " << std::setw(10) << f3(r["a_median"].get<double>(), 4) << "  " << std::setw(10)
              << f3(r["b_median"].get<double>(), 4) << "  " << std::setw(7) << f3(r["ratio"].get<double>())
              << "  " << std::setw(9) << f3(r["noise_seconds"].get<double>(), 2) << "  "
              << r["verdict"].get<std::string>();
          if (r.contains("note")) out << " (" << r["note"].get<std::string>() << ")";
        } else {
          out << "  " << r["verdict"].get<std::string>();
        }
        out << "\n";
      }
      out << "summary:";
      for (const auto& [k, v] : tally) out << " " << v << " " << k << ";";
      out << "\n(" << doc["rule"].get<std::string>() << ", floor " << o.floor << ")\n";
    }
    return (o.fail_on_slower && slower) ? 1 : 0;
  });
}

// checks (suite):
//   "speedup": [{"algorithm": "lloyd" | "best", "over": PEER, "metric": "seconds_per_iteration"|"seconds",
//                "at_least": X}],
//   "inertia": {"tol": 1e-5, "algorithms": [...]}  (relative to personakit lloyd of the group)
ojson evaluate_checks(const ojson& checks, const ojson& cases) {
  ojson res = ojson::array();
  if (!checks.is_object()) return res;
  std::map<std::string, std::vector<const ojson*>> groups;
  std::vector<std::string> order;
  for (const auto& c : cases) {
    const std::string g = c["group"].get<std::string>();
    if (!groups.count(g)) order.push_back(g);
    groups[g].push_back(&c);
  }
  auto has = [](const ojson& c, const std::string& metric) {
    return c.contains(metric) && c[metric].is_object() && c[metric].contains("median");
  };
  auto median = [](const ojson& c, const std::string& metric) {
    return c[metric]["median"].get<double>();
  };
  for (const auto& g : order) {
    const auto& cs = groups[g];
    if (checks.contains("speedup")) {
      for (const auto& rule : checks["speedup"]) {
        const std::string algo = rule.value("algorithm", "best");
        const std::string over = rule.at("over").get<std::string>();
        const std::string metric = rule.value("metric", "seconds");
        const double target = rule.at("at_least").get<double>();
        const ojson* mine = nullptr;
        const ojson* peer = nullptr;
        for (const ojson* c : cs) {
          if ((*c).value("status", "") != "ok" || !has(*c, metric)) continue;
          if ((*c)["algorithm"] == over) peer = c;
          if ((*c)["runner"] != "personakit" || (*c)["algorithm"] == over) continue;
          if (algo == "best") {
            if (!mine || median(*c, metric) < median(*mine, metric)) mine = c;
          } else if ((*c)["algorithm"] == algo) {
            mine = c;
          }
        }
        ojson r{{"group", g}, {"check", "speedup"}, {"over", over}, {"metric", metric}, {"target", target}};
        if (!mine || !peer) {
          r["algorithm"] = algo;
          r["status"] = "n/a";
          r["note"] = !mine ? "no personakit case with " + metric : over + " has no " + metric;
        } else {
          const double ratio = median(*peer, metric) / median(*mine, metric);
          r["algorithm"] = (*mine)["algorithm"];
          r["ratio"] = ratio;
          r["status"] = ratio >= target ? "pass" : "FAIL";
        }
        res.push_back(r);
      }
    }
    // "no_worse": [{"algorithm": A, "than": B, "metric": "inertia_f64", "slack": 0}]: A's final
    // inertia <= B's * (1 + slack) (mini-batch against scikit-learn's at equal steps).
    if (checks.contains("no_worse")) {
      for (const auto& rule : checks["no_worse"]) {
        const std::string algo = rule.at("algorithm").get<std::string>();
        const std::string than = rule.at("than").get<std::string>();
        const std::string metric = rule.value("metric", "inertia_f64");
        const double slack = rule.value("slack", 0.0);
        const ojson* mine = nullptr;
        const ojson* other = nullptr;
        for (const ojson* c : cs) {
          if ((*c).value("status", "") != "ok" || !(*c).contains(metric) || !(*c)[metric].is_number()) continue;
          if ((*c)["algorithm"] == algo) mine = c;
          if ((*c)["algorithm"] == than) other = c;
        }
        ojson r{{"group", g}, {"check", "no_worse"}, {"algorithm", algo}, {"than", than}, {"metric", metric},
                {"target", 1 + slack}};
        if (!mine || !other) {
          r["status"] = "n/a";
          r["note"] = std::string(!mine ? algo : than) + " has no " + metric;
        } else {
          const double ratio = (*mine)[metric].get<double>() / (*other)[metric].get<double>();
          r["ratio"] = ratio;
          r["status"] = ratio <= 1 + slack ? "pass" : "FAIL";
        }
        res.push_back(r);
      }
    }
    if (checks.contains("inertia")) {
      const double tol = checks["inertia"].value("tol", 1e-5);
      std::vector<std::string> algos;
      if (checks["inertia"].contains("algorithms")) algos = checks["inertia"]["algorithms"].get<std::vector<std::string>>();
      for (const ojson* c : cs) {
        if ((*c).value("status", "") != "ok" || !(*c).contains("inertia_rel_diff")) continue;
        const std::string a = (*c)["algorithm"].get<std::string>();
        if (a == "lloyd") continue;
        if (!algos.empty() && std::find(algos.begin(), algos.end(), a) == algos.end()) continue;
        const double rd = (*c)["inertia_rel_diff"].get<double>();
        res.push_back(ojson{{"group", g},
                            {"check", "inertia"},
                            {"algorithm", a},
                            {"rel_diff", rd},
                            {"target", tol},
                            {"status", rd <= tol ? "pass" : "FAIL"}});
      }
    }
  }
  return res;
}

void print_checks(const ojson& checks, std::ostream& out) {
  if (!checks.is_array() || checks.empty()) return;
  out << "\nchecks:\n";
  for (const auto& r : checks) {
    out << "  [" << r["status"].get<std::string>() << "] " << r["group"].get<std::string>() << ": ";
    if (r["check"] == "speedup") {
      out << r["algorithm"].get<std::string>() << " vs " << r["over"].get<std::string>() << " ("
          << r["metric"].get<std::string>() << "): ";
      if (r.contains("ratio"))
        out << f3(r["ratio"].get<double>()) << "x";
      else
        out << r.value("note", "");
      out << ", target >= " << f3(r["target"].get<double>()) << "x\n";
    } else if (r["check"] == "no_worse") {
      out << r["algorithm"].get<std::string>() << " " << r["metric"].get<std::string>() << " / "
          << r["than"].get<std::string>() << "'s: ";
      if (r.contains("ratio"))
        out << f3(r["ratio"].get<double>(), 8);
      else
        out << r.value("note", "");
      out << ", target <= " << f3(r["target"].get<double>()) << "\n";
    } else {
      out << r["algorithm"].get<std::string>() << " |dInertia|/inertia = " << f3(r["rel_diff"].get<double>(), 2)
          << ", target <= " << f3(r["target"].get<double>(), 2) << "\n";
    }
  }
}

}  // namespace personakit::bench
