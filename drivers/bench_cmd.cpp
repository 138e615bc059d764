// `personakit bench run`: suites -> cases -> one result JSON + a console table.
//
// Fairness rules (docs/benchmarks.md): every algorithm and every peer of a case starts
// from the same k-means++ centroids, computed once here and written to an .npy file the
// peers read; peers read the same HDF5 file; only the fit is timed, data in memory.
#include "bench_cmd.hpp"

#include <omp.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "common.hpp"
#include "personakit/assign.hpp"
#include "personakit/datasets/datasets.hpp"
#include "personakit/error.hpp"
#include "personakit/isa.hpp"
#include "personakit/kmeans.hpp"

// HDF5's include directory is private to personakit::datasets; Debian's serial
// build is reachable by its full path, and the library is linked through datasets.
#if __has_include(<hdf5.h>)
#include <hdf5.h>
#define PK_BENCH_HAVE_HDF5 1
#elif __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#define PK_BENCH_HAVE_HDF5 1
#endif
#if __has_include(<eigen3/Eigen/src/Core/util/Macros.h>)
#include <eigen3/Eigen/src/Core/util/Macros.h>
#endif

// Configure-time facts (compiler, flags, build type, ISAs built), when the build generates them.
#if __has_include("personakit/version.hpp")
#include "personakit/version.hpp"
#endif
#ifndef PERSONAKIT_VERSION
#define PERSONAKIT_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace personakit::bench {

// ------------------------------------------------------------------ small helpers

Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  s.median = (v.size() % 2) ? v[m] : 0.5 * (v[m - 1] + v[m]);
  s.min = v.front();
  s.max = v.back();
  return s;
}

json stats_json(const Stats& s) { return json{{"median", s.median}, {"min", s.min}, {"max", s.max}}; }

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

// Runs a shell command, returns its stdout; rc gets the exit status (-1 if not run).
std::string capture(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    if (rc) *rc = -1;
    return out;
  }
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  int st = ::pclose(p);
  if (rc) *rc = (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
  return out;
}

static std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

static std::string last_line(const std::string& s) {
  std::string t = trim(s);
  auto p = t.rfind('\n');
  return p == std::string::npos ? t : t.substr(p + 1);
}

static std::string utc_now(const char* fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

// Peak RSS of this process in MiB since the last reset_peak_rss(): Linux resets
// VmHWM when "5" is written to /proc/self/clear_refs; elsewhere getrusage (whole life).
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream is(line.substr(6));
      double kb = 0;
      is >> kb;
      return kb / 1024.0;
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

// ------------------------------------------------------------------ environment

static std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return trim(line.substr(p + 1));
    }
  }
  return "unknown";
}

static std::string git_commit(const std::string& dir) {
  int rc = 0;
  std::string q = shell_quote(dir.empty() ? "." : dir);
  std::string head = trim(capture("git -C " + q + " rev-parse HEAD 2>/dev/null", &rc));
  if (rc != 0 || head.empty()) return "unknown";
  // Read-only check for local modifications of tracked files (does not touch the index).
  capture("git -C " + q + " diff-index --quiet HEAD -- 2>/dev/null", &rc);
  return rc == 1 ? head + "-dirty" : head;
}

json environment(const std::string& source_dir) {
  json env;
  env["personakit_version"] = PERSONAKIT_VERSION;
  env["git_commit"] = git_commit(source_dir);
#ifdef PERSONAKIT_GIT_COMMIT
  env["git_commit_at_configure"] = PERSONAKIT_GIT_COMMIT;
#endif
  env["date_utc"] = utc_now("%Y-%m-%dT%H:%M:%SZ");
  utsname u{};
  if (uname(&u) == 0) {
    env["host"] = u.nodename;
    env["os"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  }
  env["cpu_model"] = cpu_model();
  // Other load on the machine perturbs every timing: recorded at the start (and the end, below).
  double la[3] = {0, 0, 0};
  if (getloadavg(la, 3) == 3) env["loadavg_start"] = json::array({la[0], la[1], la[2]});
  env["logical_cores"] = std::thread::hardware_concurrency();
  env["omp_max_threads"] = omp_get_max_threads();
  env["omp_num_procs"] = omp_get_num_procs();
  env["isa"] = isa_name(active_isa());
  json avail = json::array();
  for (Isa i : available_isas()) avail.push_back(isa_name(i));
  env["isas_available"] = avail;
  if (!isa_override_error().empty()) env["isa_override_error"] = isa_override_error();
  if (const char* e = std::getenv("PERSONAKIT_ISA")) env["PERSONAKIT_ISA"] = e;
  // Threading environment, inherited by the peers too (OMP_WAIT_POLICY=passive matters
  // on a loaded machine: spinning OpenMP/OpenBLAS threads then slow down by 10x or more).
  for (const char* var : {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND", "OMP_PLACES",
                          "OPENBLAS_NUM_THREADS"}) {
    if (const char* e = std::getenv(var)) env[var] = e;
  }
  json comp;
#if defined(__clang__)
  comp["id"] = "Clang";
#elif defined(__GNUC__)
  comp["id"] = "GNU";
#else
  comp["id"] = "unknown";
#endif
#ifdef __VERSION__
  comp["version"] = __VERSION__;
#endif
  // What the compiler itself says about how the driver was built (the kernels' ISA
  // paths carry their own -m flags; the ISA taken at run time is "isa" above).
  json flags = json::array();
#ifdef __OPTIMIZE__
  flags.push_back("__OPTIMIZE__ (-O1 or higher)");
#endif
#ifdef NDEBUG
  flags.push_back("NDEBUG");
#endif
#ifdef __AVX2__
  flags.push_back("__AVX2__ (baseline built with AVX2: -march=native or -mavx2)");
#endif
#ifdef __AVX512F__
  flags.push_back("__AVX512F__ (baseline built with AVX-512)");
#endif
#ifdef __FAST_MATH__
  flags.push_back("__FAST_MATH__");
#endif
  comp["defines"] = flags;
#ifdef PERSONAKIT_CXX_COMPILER
  comp["cmake_compiler"] = PERSONAKIT_CXX_COMPILER;
#endif
#ifdef PERSONAKIT_CXX_FLAGS
  comp["flags"] = PERSONAKIT_CXX_FLAGS;
#endif
#ifdef PERSONAKIT_BUILD_TYPE
  comp["build_type"] = PERSONAKIT_BUILD_TYPE;
#endif
#ifdef PERSONAKIT_ISAS_BUILT
  comp["isas_built"] = PERSONAKIT_ISAS_BUILT;
#endif
  comp["cplusplus"] = static_cast<long>(__cplusplus);
  env["compiler"] = comp;
  json libs;
#ifdef _OPENMP
  libs["openmp"] = std::to_string(_OPENMP);
#endif
#ifdef PK_BENCH_HAVE_HDF5
  {
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    libs["hdf5"] = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
  }
#endif
#ifdef EIGEN_WORLD_VERSION
  libs["eigen_headers"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
                          "." + std::to_string(EIGEN_MINOR_VERSION);
#endif
  libs["nlohmann_json"] = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                          std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                          std::to_string(NLOHMANN_JSON_VERSION_PATCH);
#ifdef CLI11_VERSION
  libs["cli11"] = CLI11_VERSION;
#endif
  env["libraries"] = libs;
  return env;
}

// ------------------------------------------------------------------ suite model

struct DataSpec {
  std::string name;
  std::string kind;        // customers | blobs | file
  std::uint64_t rows = 0;
  std::size_t features = 0, segments = 0;
  std::uint64_t seed = 0;
  double separation = 4.0;
  std::string path, dataset = "/features";
  std::vector<std::size_t> k;
};

struct AlgoSpec {
  std::string name;        // personakit algorithm, or peer name
  std::string label;       // case name ("label", default name): two variants of one algorithm
  json options;            // overrides: max_iter, tol, batch_size, max_epochs, max_steps, ...
};

struct Suite {
  std::string name, description;
  int repetitions = 3, warmup = 1;
  std::vector<int> threads;
  std::uint64_t seed = 42;
  std::string init = "kmeans++";
  int max_iter = 300;
  double tol = 1e-4;
  bool assign_pass = true;
  // "time_to_target": {"rel", "ladder_start", "ladder_ratio", "ladder_max_steps"} (mini-batch
  // suites): time until the full-data inertia is within rel of converged personakit lloyd's.
  json time_to_target;     // null: not measured
  bool exact_inertia = false;  // recompute every case's final inertia in fp64 (inertia_f64)
  std::uint64_t quick_max_steps = 0;  // --quick: cap on every case's max_steps (0: none)
  std::vector<DataSpec> data;
  std::vector<AlgoSpec> algorithms, peers;
  json checks = json::object();
  json raw;
};

[[noreturn]] static void suite_error(const std::string& path, const std::string& what) {
  throw personakit::Error(path + ": " + what);
}

static std::vector<std::size_t> k_list(json j, const std::string& path) {
  std::vector<std::size_t> ks;
  if (j.is_number_integer()) j = json::array({j});
  if (!j.is_array()) suite_error(path, "\"k\" must be an integer or a list of integers");
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<long long>() < 1)
      suite_error(path, "\"k\" entries must be integers >= 1");
    ks.push_back(v.get<std::size_t>());
  }
  return ks;
}

static std::vector<AlgoSpec> algo_list(const json& j, const std::string& key, const std::string& path) {
  std::vector<AlgoSpec> out;
  if (j.is_null()) return out;
  if (!j.is_array()) suite_error(path, "\"" + key + "\" must be a list");
  for (const auto& v : j) {
    AlgoSpec a;
    if (v.is_string()) {
      a.name = v.get<std::string>();
      a.options = json::object();
    } else if (v.is_object() && v.contains("name") && v["name"].is_string()) {
      a.name = v["name"].get<std::string>();
      a.options = v;
      a.options.erase("name");
    } else {
      suite_error(path, "each \"" + key + "\" entry is a name or an object with \"name\"");
    }
    a.label = a.options.value("label", a.name);
    a.options.erase("label");
    for (const auto& o : out)
      if (o.label == a.label) suite_error(path, "two \"" + key + "\" entries named '" + a.label + "': give one a \"label\"");
    out.push_back(a);
  }
  return out;
}

Suite load_suite(const std::string& path, bool quick) {
  std::ifstream f(path);
  if (!f) suite_error(path, "cannot open the suite file");
  Suite s;
  try {
    s.raw = json::parse(f, nullptr, true, /*ignore_comments=*/true);
  } catch (const std::exception& e) {
    suite_error(path, std::string("not valid JSON: ") + e.what());
  }
  const json& r = s.raw;
  if (!r.is_object()) suite_error(path, "the suite must be a JSON object");
  try {
    s.name = r.value("name", fs::path(path).stem().string());
    s.description = r.value("description", "");
    s.repetitions = r.value("repetitions", 3);
    s.warmup = r.value("warmup", 1);
    s.seed = r.value("seed", std::uint64_t{42});
    s.init = r.value("init", std::string("kmeans++"));
    s.max_iter = r.value("max_iter", 300);
    s.tol = r.value("tol", 1e-4);
    s.assign_pass = r.value("assign_pass", true);
    if (r.contains("checks")) s.checks = r["checks"];
    s.exact_inertia = r.value("exact_inertia", false);
    if (r.contains("time_to_target") && !r["time_to_target"].is_null()) {
      const json& t = r["time_to_target"];
      if (!t.is_object()) suite_error(path, "\"time_to_target\" must be an object");
      s.time_to_target = json{{"rel", t.value("rel", 0.01)},
                              {"ladder_start", t.value("ladder_start", std::uint64_t{16})},
                              {"ladder_ratio", t.value("ladder_ratio", 1.5)},
                              {"ladder_max_steps", t.value("ladder_max_steps", std::uint64_t{1000000})}};
      if (!(s.time_to_target["rel"].get<double>() >= 0) || s.time_to_target["ladder_ratio"].get<double>() <= 1 ||
          s.time_to_target["ladder_start"].get<std::uint64_t>() < 1)
        suite_error(path, "\"time_to_target\": rel >= 0, ladder_ratio > 1, ladder_start >= 1");
    }
  } catch (const json::exception& e) {
    suite_error(path, std::string("wrong type of a top-level field: ") + e.what());
  }
  if (r.contains("threads")) {
    json t = r["threads"];
    if (t.is_number_integer()) t = json::array({t});
    for (const auto& v : t) {
      if (!v.is_number_integer() || v.get<int>() < 1) suite_error(path, "\"threads\" entries must be integers >= 1");
      s.threads.push_back(v.get<int>());
    }
  }
  if (s.threads.empty()) s.threads.push_back(omp_get_max_threads());
  std::vector<std::size_t> default_k;
  if (r.contains("k")) default_k = k_list(r["k"], path);
  double row_scale = 1.0;
  std::uint64_t min_rows = 2000;
  if (quick) {
    json q = r.value("quick", json::object());
    row_scale = q.value("row_scale", 0.1);
    min_rows = q.value("min_rows", std::uint64_t{2000});
    s.repetitions = q.value("repetitions", 1);
    s.warmup = q.value("warmup", 0);
    if (q.contains("max_iter")) s.max_iter = q["max_iter"].get<int>();
    s.quick_max_steps = q.value("max_steps", std::uint64_t{0});
    if (q.contains("time_to_target") && s.time_to_target.is_object())
      s.time_to_target.update(q["time_to_target"]);
  }
  if (s.repetitions < 1) suite_error(path, "\"repetitions\" must be at least 1");
  if (s.warmup < 0) suite_error(path, "\"warmup\" must be >= 0");
  if (!r.contains("datasets") || !r["datasets"].is_array() || r["datasets"].empty())
    suite_error(path, "\"datasets\" must be a non-empty list");
  const fs::path base = fs::path(path).parent_path();
  for (const auto& d : r["datasets"]) {
    if (!d.is_object()) suite_error(path, "each dataset is an object");
    DataSpec ds;
    try {
      if (d.contains("path")) {
        ds.kind = "file";
        fs::path p = d["path"].get<std::string>();
        // Relative paths: relative to the current directory when the file is there, else to the suite.
        ds.path = (p.is_relative() && !fs::exists(p)) ? (base / p).string() : p.string();
        ds.dataset = d.value("dataset", std::string("/features"));
        ds.name = d.value("name", fs::path(ds.path).stem().string());
      } else {
        ds.kind = d.value("kind", std::string("customers"));
        if (ds.kind != "customers" && ds.kind != "blobs")
          suite_error(path, "dataset kind '" + ds.kind + "': customers | blobs (or give \"path\")");
        ds.rows = d.at("rows").get<std::uint64_t>();
        ds.features = d.at("features").get<std::size_t>();
        ds.segments = d.value("segments", std::size_t{8});
        ds.seed = d.value("seed", std::uint64_t{1});
        ds.separation = d.value("separation", 4.0);
        if (quick) ds.rows = std::max<std::uint64_t>(min_rows, static_cast<std::uint64_t>(ds.rows * row_scale));
        if (ds.rows < 1 || ds.features < 1) suite_error(path, "dataset rows and features must be >= 1");
        std::ostringstream nm;
        nm << ds.kind << "-" << ds.rows << "x" << ds.features;
        ds.name = d.value("name", nm.str());
        if (quick && d.contains("name")) ds.name += "-quick";
      }
    } catch (const json::exception& e) {
      suite_error(path, std::string("dataset entry: ") + e.what());
    }
    ds.k = d.contains("k") ? k_list(d["k"], path) : default_k;
    if (ds.k.empty()) suite_error(path, "dataset '" + ds.name + "' has no \"k\" (and the suite none)");
    s.data.push_back(ds);
  }
  s.algorithms = algo_list(r.value("algorithms", json()), "algorithms", path);
  s.peers = algo_list(r.value("peers", json()), "peers", path);
  for (const auto& a : s.algorithms) {
    try {
      (void)parse_algorithm(a.name);
    } catch (const std::exception& e) {
      suite_error(path, "algorithm '" + a.name + "': " + e.what());
    }
  }
  static const char* kPeers[] = {"sklearn-lloyd", "sklearn-elkan", "sklearn-minibatch", "faiss"};
  for (const auto& p : s.peers) {
    if (std::find_if(std::begin(kPeers), std::end(kPeers), [&](const char* n) { return p.name == n; }) ==
        std::end(kPeers))
      suite_error(path, "peer '" + p.name + "': sklearn-lloyd | sklearn-elkan | sklearn-minibatch | faiss");
  }
  if (s.algorithms.empty() && s.peers.empty()) suite_error(path, "no \"algorithms\" and no \"peers\"");
  (void)parse_init(s.init);
  return s;
}

// ------------------------------------------------------------------ npy writer

// NumPy .npy v1.0, little-endian float32, C order: what the peers load as init.
void write_npy(const std::string& path, const float* x, std::size_t rows, std::size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw personakit::Error(path + ": cannot write");
    f.write("\x93NUMPY\x01\x00", 8);
    const std::uint16_t hl = static_cast<std::uint16_t>(header.size());
    const unsigned char le[2] = {static_cast<unsigned char>(hl & 0xff), static_cast<unsigned char>(hl >> 8)};
    f.write(reinterpret_cast<const char*>(le), 2);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    f.write(reinterpret_cast<const char*>(x), static_cast<std::streamsize>(rows * cols * sizeof(float)));
    if (!f) throw personakit::Error(path + ": write failed");
  }
  fs::rename(tmp, path);
}

// NumPy .npy v1.0/v2.0, '<f4' or '<f8', C order, 2-D: the final centroids the peers write.
std::vector<float> read_npy(const std::string& path, std::size_t* rows, std::size_t* cols) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw personakit::Error(path + ": cannot open");
  char magic[8];
  f.read(magic, 8);
  if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw personakit::Error(path + ": not a .npy file");
  std::size_t hl = 0;
  unsigned char le[4] = {0, 0, 0, 0};
  if (magic[6] == 1) {
    f.read(reinterpret_cast<char*>(le), 2);
    hl = le[0] | (le[1] << 8);
  } else {
    f.read(reinterpret_cast<char*>(le), 4);
    hl = le[0] | (le[1] << 8) | (le[2] << 16) | (static_cast<std::size_t>(le[3]) << 24);
  }
  std::string h(hl, ' ');
  f.read(h.data(), static_cast<std::streamsize>(hl));
  const bool f8 = h.find("'<f8'") != std::string::npos;
  if ((!f8 && h.find("'<f4'") == std::string::npos) || h.find("'fortran_order': False") == std::string::npos)
    throw personakit::Error(path + ": expected a C-order <f4 or <f8 array");
  const auto a = h.find('('), b = h.find(')');
  if (a == std::string::npos || b == std::string::npos) throw personakit::Error(path + ": no shape");
  std::size_t r = 0, c = 0;
  if (std::sscanf(h.substr(a, b - a + 1).c_str(), "(%zu, %zu)", &r, &c) != 2)
    throw personakit::Error(path + ": expected a 2-D array");
  std::vector<float> out(r * c);
  if (f8) {
    std::vector<double> tmp(r * c);
    f.read(reinterpret_cast<char*>(tmp.data()), static_cast<std::streamsize>(tmp.size() * sizeof(double)));
    for (std::size_t i = 0; i < tmp.size(); ++i) out[i] = static_cast<float>(tmp[i]);
  } else {
    f.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(float)));
  }
  if (!f) throw personakit::Error(path + ": truncated");
  *rows = r;
  *cols = c;
  return out;
}

// sum_i min_j sum_f (x_if - c_jf)^2, every difference and square in fp64 (no expansion, so
// no cancellation): the one formula applied to every party's final centroids. Fixed blocks
// of rows reduced in block order: the same bits for any thread count.
double inertia_f64(const float* x, std::size_t n, std::size_t d, const float* c, std::size_t k) {
  std::vector<double> cd(c, c + k * d);
  constexpr std::size_t kBlock = 16384;
  const std::size_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> part(nb, 0.0);
#pragma omp parallel
  {
    std::vector<double> xr(d);
#pragma omp for schedule(static)
    for (std::ptrdiff_t b = 0; b < static_cast<std::ptrdiff_t>(nb); ++b) {
      double s = 0;
      const std::size_t lo = static_cast<std::size_t>(b) * kBlock, hi = std::min(n, lo + kBlock);
      for (std::size_t i = lo; i < hi; ++i) {
        for (std::size_t f = 0; f < d; ++f) xr[f] = x[i * d + f];
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t j = 0; j < k; ++j) {
          const double* cj = &cd[j * d];
          double acc = 0;
          for (std::size_t f = 0; f < d; ++f) {
            const double t = xr[f] - cj[f];
            acc += t * t;
          }
          best = std::min(best, acc);
        }
        s += best;
      }
      part[static_cast<std::size_t>(b)] = s;
    }
  }
  double total = 0;
  for (double v : part) total += v;
  return total;
}

// ------------------------------------------------------------------ peers

std::string find_peers_dir(const std::string& given, const std::string& suite_path) {
  std::vector<fs::path> cands;
  if (!given.empty()) cands.push_back(given);
  if (const char* e = std::getenv("PERSONAKIT_PEERS_DIR")) cands.push_back(e);
  fs::path sp = fs::absolute(suite_path).parent_path();
  cands.push_back(sp / ".." / "peers");   // bench/suites/X.json -> bench/peers
  cands.push_back(sp / "peers");
  cands.push_back(fs::path("bench") / "peers");
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
      cands.push_back(p / "bench" / "peers");
  }
  for (const auto& c : cands)
    if (fs::exists(c / "run_peer.py")) return fs::weakly_canonical(c).string();
  return "";
}

// ------------------------------------------------------------------ the run

namespace {

struct Case {
  json j;
};

std::string fmt(double v, int prec = 3) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream o;
  o << std::setprecision(prec) << v;
  return o.str();
}

std::string fmt_fixed(double v, int prec) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
  return o.str();
}

double jnum(const json& j, const char* key) {
  if (j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nan("");
}

}  // namespace

// Console table of a result document (also used by `bench compare --show`).
void print_table(const json& doc, std::ostream& out) {
  struct Row {
    std::vector<std::string> c;
  };
  std::vector<std::string> head = {"case", "iters", "median s", "min..max s", "s/iter", "dist/Lloyd",
                                   "inertia", "rel.dInertia", "vs sk-lloyd", "vs faiss", "RSS MiB"};
  std::vector<Row> rows;
  // Peer medians per group for the speed-up columns (time ratio: peer / this).
  std::map<std::string, std::map<std::string, double>> per_iter;
  for (const auto& c : doc["cases"]) {
    if (c.value("status", "") != "ok") continue;
    per_iter[c["group"].get<std::string>()][c["algorithm"].get<std::string>()] =
        c["seconds_per_iteration"]["median"].get<double>();
  }
  for (const auto& c : doc["cases"]) {
    Row r;
    const std::string id = c["id"].get<std::string>();
    if (c.value("status", "") != "ok") {
      r.c = {id, "", c.value("status", "?") + ": " + c.value("note", ""), "", "", "", "", "", "", "", ""};
      rows.push_back(r);
      continue;
    }
    const auto& g = per_iter[c["group"].get<std::string>()];
    double spi = c["seconds_per_iteration"]["median"].get<double>();
    auto vs = [&](const char* peer) -> std::string {
      auto it = g.find(peer);
      if (it == g.end() || c["runner"] != "personakit") return "";
      return fmt(it->second / spi, 3) + "x";
    };
    std::string dl;
    if (c.contains("distance_fraction") && c["distance_fraction"].is_number())
      dl = fmt(c["distance_fraction"].get<double>(), 3);
    r.c = {id,
           c.contains("iterations") ? c["iterations"].dump() : "",
           fmt(c["seconds"]["median"].get<double>(), 4),
           fmt(c["seconds"]["min"].get<double>(), 3) + ".." + fmt(c["seconds"]["max"].get<double>(), 3),
           fmt(spi, 3),
           dl,
           fmt(jnum(c, "inertia"), 7),
           fmt(jnum(c, "inertia_rel_diff"), 2),
           vs("sklearn-lloyd"),
           vs("faiss"),
           fmt_fixed(jnum(c, "peak_rss_mb"), 0)};
    rows.push_back(r);
  }
  std::vector<std::size_t> w(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.c.size() && i < w.size(); ++i)
      if (r.c[1].size() || i != 2) w[i] = std::max(w[i], r.c[i].size());
  auto line = [&](const std::vector<std::string>& c) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (i == 0)
        out << std::left << std::setw(static_cast<int>(w[i])) << c[i];
      else
        out << "  " << std::right << std::setw(static_cast<int>(w[i])) << c[i];
    }
    out << "\n";
  };
  line(head);
  for (const auto& r : rows) {
    if (r.c[1].empty() && !r.c[2].empty())
      out << std::left << std::setw(static_cast<int>(w[0])) << r.c[0] << "  " << r.c[2] << "\n";
    else
      line(r.c);
  }
  out << std::right;
  out << "(vs X = X's seconds per iteration / this case's: > 1 means this case is faster; "
         "rel.dInertia = |inertia - personakit lloyd's| / personakit lloyd's)\n";

  // Mini-batch suites: final quality and the time to reach the target.
  bool any_ttt = false;
  for (const auto& c : doc["cases"]) any_ttt = any_ttt || c.contains("time_to_target");
  if (!any_ttt) return;
  std::map<std::string, double> lloyd_ttt;
  for (const auto& c : doc["cases"])
    if (c.value("status", "") == "ok" && c["algorithm"] == "lloyd" && c.contains("time_to_target_seconds"))
      lloyd_ttt[c["group"].get<std::string>()] = c["time_to_target_seconds"]["median"].get<double>();
  out << "\nfull-data inertia relative to converged lloyd (same init; fp64 recomputation when made), and time "
         "until within the target:\n";
  out << std::left << std::setw(static_cast<int>(w[0])) << "case" << std::right << "  " << std::setw(11)
      << "steps/iters" << "  " << std::setw(12) << "final rel." << "  " << std::setw(8) << "target" << "  "
      << std::setw(10) << "reached at" << "  " << std::setw(10) << "median s" << "  " << std::setw(16)
      << "min..max s" << "  " << std::setw(9) << "vs lloyd" << "\n";
  for (const auto& c : doc["cases"]) {
    if (c.value("status", "") != "ok" || !(c.contains("time_to_target") || c.contains("inertia_rel_lloyd"))) continue;
    if (!c.contains("time_to_target") && c["runner"] == "peer" && c["algorithm"] != "sklearn-minibatch") continue;
    const json tj = c.value("time_to_target", json::object());
    std::string at = "-", med = "-", mm = "-", vs = "-";
    if (tj.value("reached", false)) {
      if (tj.contains("iteration"))
        at = "it " + tj["iteration"].dump();
      else
        at = tj["steps"].dump() + " st" + (tj.value("refine", json(0)).is_number() && tj["refine"].get<int>() > 0
                                               ? "+" + tj["refine"].dump() + "L" : "");
      const auto& ts = c["time_to_target_seconds"];
      med = fmt(ts["median"].get<double>(), 4);
      mm = fmt(ts["min"].get<double>(), 3) + ".." + fmt(ts["max"].get<double>(), 3);
      auto it = lloyd_ttt.find(c["group"].get<std::string>());
      if (it != lloyd_ttt.end() && c["algorithm"] != "lloyd") vs = fmt(it->second / ts["median"].get<double>(), 3) + "x";
    } else if (c.contains("time_to_target")) {
      at = "not reached";
    }
    out << std::left << std::setw(static_cast<int>(w[0])) << c["id"].get<std::string>() << std::right << "  "
        << std::setw(11) << (c.contains("iterations") ? c["iterations"].dump() : "") << "  " << std::setw(12)
        << fmt(jnum(c, "inertia_rel_lloyd"), 3) << "  " << std::setw(8) << fmt(tj.value("target_rel", std::nan("")), 3)
        << "  " << std::setw(10) << at << "  " << std::setw(10) << med << "  " << std::setw(16) << mm << "  "
        << std::setw(9) << vs << "\n";
  }
  out << "(final rel. = inertia / lloyd's - 1 after the fixed steps; reached at = smallest ladder step count (or "
         "Lloyd iteration) within the target; vs lloyd = lloyd's time to the target / this case's)\n";
}

int run_bench(RunOptions& o, std::ostream& out, std::ostream& err) {
  return cli::guarded(err, [&]() -> int {
    const auto t_run = std::chrono::steady_clock::now();
    Suite s = load_suite(o.suite, o.quick);
    fs::create_directories(o.out_dir);
    const std::string cache = o.cache_dir.empty() ? (fs::path(o.out_dir) / "cache").string() : o.cache_dir;
    fs::create_directories(cache);
    auto say = [&](const std::string& msg) {
      if (!o.quiet) err << "[bench] " << msg << "\n" << std::flush;
    };

    json doc;
    doc["schema"] = "personakit-bench/1";
    doc["suite_name"] = s.name;
    doc["suite_path"] = o.suite;
    doc["quick"] = o.quick;
    const std::string src_dir = fs::absolute(o.suite).parent_path().string();
    doc["environment"] = environment(src_dir);
    doc["seeds"] = json{{"init", s.seed}, {"init_method", s.init}};

    // Peers: locate the script and ask for the module versions once.
    std::string peers_dir;
    json peer_versions = json::object();
    bool peers_ok = false;
    if (!s.peers.empty() && !o.no_peers) {
      peers_dir = find_peers_dir(o.peers_dir, o.suite);
      if (peers_dir.empty()) {
        say("peers: run_peer.py not found (use --peers-dir); peers skipped");
      } else if (::access(o.python.c_str(), X_OK) != 0) {
        say("peers: " + o.python + " not executable; peers skipped");
      } else {
        int rc = 0;
        std::string v = capture(shell_quote(o.python) + " " + shell_quote(peers_dir + "/run_peer.py") +
                                    " --versions 2>/dev/null",
                                &rc);
        try {
          json pv = json::parse(last_line(v));
          peer_versions = pv["versions"];
          peers_ok = (rc == 0);
        } catch (const std::exception&) {
          say("peers: run_peer.py --versions failed; peers skipped");
        }
      }
    }
    doc["environment"]["peers"] = json{{"python", o.python}, {"script_dir", peers_dir}, {"versions", peer_versions}};

    // Roofline, once per thread count used.
    json roof = json::object();
    for (int t : s.threads) {
      say("roofline probe, " + std::to_string(t) + " thread(s)");
      roof[std::to_string(t)] = measure_roofline_json(t, o.roofline_seconds);
    }
    doc["roofline"] = roof;

    // The result file is named at the start and rewritten after every group of cases
    // ("complete": false until the end), so an interrupted long run keeps what it measured.
    const std::string fname = s.name + (o.quick ? "-quick" : "") + "-" + utc_now("%Y%m%dT%H%M%SZ") + ".json";
    o.output_file = (fs::path(o.out_dir) / fname).string();
    json cases = json::array();
    json assign_passes = json::array();
    json inits = json::array();  // the shared initial centroids, one per (dataset, k)
    const int saved_threads = omp_get_max_threads();

    for (const auto& ds : s.data) {
      // ---- the data file (generated once into the cache, then reused)
      std::string file = ds.path;
      json dsj;
      dsj["name"] = ds.name;
      dsj["kind"] = ds.kind;
      if (ds.kind != "file") {
        std::ostringstream nm;
        nm << ds.kind << "-n" << ds.rows << "-d" << ds.features << "-s" << ds.segments << "-seed" << ds.seed;
        if (ds.kind == "blobs") nm << "-sep" << ds.separation;
        nm << ".h5";
        file = (fs::path(cache) / nm.str()).string();
        if (!fs::exists(file)) {
          say("generating " + file);
          datasets::GeneratorParams gp;
          gp.kind = ds.kind;
          gp.rows = ds.rows;
          gp.features = ds.features;
          gp.segments = ds.segments;
          gp.seed = ds.seed;
          gp.separation = ds.separation;
          datasets::generate(gp, file);
        }
        dsj["rows"] = ds.rows;
        dsj["features"] = ds.features;
        dsj["segments"] = ds.segments;
        dsj["seed"] = ds.seed;
        if (ds.kind == "blobs") dsj["separation"] = ds.separation;
      }
      dsj["file"] = file;
      dsj["dataset"] = ds.dataset;
      say("reading " + file);
      datasets::Matrix m = datasets::read_matrix(file, ds.dataset);
      const std::size_t n = m.n, d = m.d;
      dsj["n"] = n;
      dsj["d"] = d;

      for (std::size_t k : ds.k) {
        if (k > n) {
          say("skipping k=" + std::to_string(k) + " > n");
          continue;
        }
        // ---- the shared initial centroids
        omp_set_num_threads(saved_threads);
        const auto ti = std::chrono::steady_clock::now();
        std::uint64_t init_evals = 0;
        std::vector<float> init = init_centroids(m.x.data(), n, d, k, parse_init(s.init), s.seed, nullptr, &init_evals);
        const double init_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - ti).count();
        std::ostringstream inm;
        inm << "init-" << fs::path(file).stem().string() << "-k" << k << "-" << s.init << "-seed" << s.seed << ".npy";
        const std::string init_file = (fs::path(cache) / inm.str()).string();
        write_npy(init_file, init.data(), k, d);
        inits.push_back(json{{"dataset", ds.name}, {"k", k}, {"method", s.init}, {"seed", s.seed},
                             {"threads", saved_threads}, {"seconds", init_s},
                             {"distance_evaluations", init_evals}, {"file", init_file}});

        for (int t : s.threads) {
          omp_set_num_threads(t);
          std::ostringstream gid;
          gid << ds.name << "/k=" << k << "/t=" << t;
          const std::string group = gid.str();
          double lloyd_inertia = std::nan("");
          std::vector<float> final_centroids;

          // ---- personakit algorithms
          // time_to_target (mini-batch suites): lloyd records (iteration, seconds since fit
          // start, inertia) through the progress callback; minibatch runs a ladder of fits
          // with increasing max_steps (prefixes of one trajectory when early stopping is off)
          // and takes the first whose full-data inertia is within rel of lloyd's.
          const json& ttt = s.time_to_target;
          const double ttt_rel = ttt.is_object() ? ttt["rel"].get<double>() : 0.0;
          double lloyd_inertia_f64 = std::nan("");
          auto centroids_file = [&](const std::string& label) {
            std::string nm = "centroids-" + ds.name + "-k" + std::to_string(k) + "-t" + std::to_string(t) + "-" + label + ".npy";
            std::replace(nm.begin(), nm.end(), '/', '_');
            return (fs::path(cache) / nm).string();
          };
          for (const auto& a : s.algorithms) {
            json c;
            c["id"] = group + "/" + a.label;
            c["group"] = group;
            c["dataset"] = ds.name;
            c["n"] = n;
            c["d"] = d;
            c["k"] = k;
            c["threads"] = t;
            c["runner"] = "personakit";
            c["algorithm"] = a.label;
            if (a.label != a.name) c["kmeans_algorithm"] = a.name;
            KMeansParams p;
            p.k = k;
            p.algorithm = parse_algorithm(a.name);
            p.init = Init::given;
            p.init_centroids = init.data();
            p.max_iter = a.options.value("max_iter", s.max_iter);
            p.tol = a.options.value("tol", s.tol);
            p.seed = s.seed;
            p.batch_size = a.options.value("batch_size", p.batch_size);
            p.max_steps = a.options.value("max_steps", p.max_steps);
            if (s.quick_max_steps > 0 && p.max_steps > s.quick_max_steps) p.max_steps = s.quick_max_steps;
            // max_steps alone means exactly that many steps (max_epochs would cap them on small data).
            p.max_epochs = a.options.value("max_epochs", p.max_steps > 0 ? std::numeric_limits<int>::max() : p.max_epochs);
            p.max_no_improvement = a.options.value("max_no_improvement", p.max_no_improvement);
            p.reassignment_ratio = a.options.value("reassignment_ratio", p.reassignment_ratio);
            p.refine = a.options.value("refine", p.refine);
            p.coreset = a.options.value("coreset", p.coreset);
            c["options"] = json{{"max_iter", p.max_iter}, {"tol", p.tol}, {"init", "given (shared " + s.init + ")"}};
            if (p.algorithm == Algorithm::minibatch)
              c["options"].update(json{{"batch_size", p.batch_size}, {"max_epochs", p.max_epochs},
                                       {"max_steps", p.max_steps}, {"max_no_improvement", p.max_no_improvement},
                                       {"reassignment_ratio", p.reassignment_ratio}, {"refine", p.refine}, {"coreset", p.coreset},
                                       {"seed", p.seed}});
            const bool want_ttt = ttt.is_object() && a.options.value("time_to_target", true) &&
                                  (p.algorithm == Algorithm::lloyd || p.algorithm == Algorithm::minibatch);
            // Lloyd's trace: {iteration, seconds since fit() started, inertia of that pass}.
            std::vector<std::array<double, 3>> trace;
            if (want_ttt && p.algorithm == Algorithm::lloyd) {
              trace.reserve(static_cast<std::size_t>(p.max_iter) + 1);
              p.progress = [&trace](const Progress& pr) {
                trace.push_back({double(pr.iteration), pr.seconds, pr.inertia});
                return true;
              };
            }
            say("case " + c["id"].get<std::string>());
            try {
              reset_peak_rss();
              for (int w = 0; w < s.warmup; ++w) (void)fit(m.x.data(), n, d, p);
              std::vector<double> times, spi, ttt_times;
              KMeansResult res;
              std::vector<int> iters;
              json ttt_j;
              for (int r = 0; r < s.repetitions; ++r) {
                trace.clear();
                const auto t0 = std::chrono::steady_clock::now();
                res = fit(m.x.data(), n, d, p);
                const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                times.push_back(sec);
                iters.push_back(res.iterations);
                spi.push_back(sec / std::max(1, res.iterations));
                if (want_ttt && p.algorithm == Algorithm::lloyd) {
                  const double target = (1 + ttt_rel) * res.inertia;
                  json tr = json::array();
                  int hit = 0;
                  double hit_s = std::nan("");
                  for (const auto& e : trace) {
                    tr.push_back(json::array({int(e[0]), e[1], e[2]}));
                    if (!hit && e[2] <= target) {
                      hit = int(e[0]);
                      hit_s = e[1];
                    }
                  }
                  if (!hit) {  // only the final pass (after a stop on tol) was within the target
                    hit = res.iterations + 1;
                    hit_s = sec;
                  }
                  ttt_times.push_back(hit_s);
                  ttt_j = json{{"target_rel", ttt_rel},
                               {"target_inertia", target},
                               {"reference", "this fit's own converged inertia"},
                               {"reached", true},
                               {"iteration", hit},
                               {"note", "iteration i's pass measures the inertia of the centroids after i-1 updates; "
                                        "seconds since fit() started (validation, row norms included)"},
                               {"trace_columns", json::array({"iteration", "seconds", "inertia"})},
                               {"trace", tr}};
                }
              }
              c["status"] = "ok";
              c["repetitions"] = s.repetitions;
              c["times"] = times;
              c["seconds"] = stats_json(stats_of(times));
              c["iterations"] = res.iterations;
              c["iterations_all"] = iters;
              c["seconds_per_iteration"] = stats_json(stats_of(spi));
              c["converged"] = res.converged;
              c["algorithm_run"] = algorithm_name(res.algorithm);
              c["distance_evaluations"] = res.distance_evaluations;
              c["lloyd_equivalent"] = res.lloyd_equivalent;
              if (res.screen_evaluations) c["screen_evaluations"] = res.screen_evaluations;
              if (res.lloyd_equivalent > 0)
                c["distance_fraction"] = double(res.distance_evaluations) / double(res.lloyd_equivalent);
              c["inertia"] = res.inertia;
              c["state_bytes"] = res.state_bytes;
              c["fit_seconds_reported"] = res.seconds;
              c["peak_rss_mb"] = peak_rss_mb();
              if (p.algorithm == Algorithm::minibatch) c["steps"] = res.iterations;
              if (s.exact_inertia) {
                c["inertia_f64"] = inertia_f64(m.x.data(), n, d, res.centroids.data(), k);
                const std::string cf = centroids_file(a.label);
                write_npy(cf, res.centroids.data(), k, d);
                c["centroids_file"] = cf;
              }
              if (p.algorithm == Algorithm::lloyd) {
                lloyd_inertia = res.inertia;
                if (c.contains("inertia_f64")) lloyd_inertia_f64 = c["inertia_f64"].get<double>();
                final_centroids = res.centroids;
              } else if (final_centroids.empty()) {
                final_centroids = res.centroids;
              }
              if (want_ttt && p.algorithm == Algorithm::lloyd) {
                c["time_to_target"] = ttt_j;
                c["time_to_target_seconds"] = stats_json(stats_of(ttt_times));
              }
              if (want_ttt && p.algorithm == Algorithm::minibatch) {
                if (!(std::isfinite(lloyd_inertia) && lloyd_inertia > 0)) {
                  c["time_to_target"] = json{{"reached", false}, {"note", "no personakit lloyd case before this one"}};
                } else {
                  // The ladder: fits with max_steps = start, start*ratio, ... (each timed once,
                  // data in memory, the same init); the first within the target is timed
                  // `repetitions` times in all.
                  const double target = (1 + ttt_rel) * lloyd_inertia;
                  KMeansParams q = p;
                  q.max_epochs = std::numeric_limits<int>::max();
                  json ladder = json::array();
                  bool reached = false;
                  std::uint64_t hit = 0;
                  std::vector<double> tt;
                  const double ratio = a.options.value("ladder_ratio", ttt["ladder_ratio"].get<double>());
                  const std::uint64_t lmax = std::min(a.options.value("ladder_max_steps", ttt["ladder_max_steps"].get<std::uint64_t>()),
                                                      ttt["ladder_max_steps"].get<std::uint64_t>());
                  // "ladder": "refine" keeps max_steps and adds exact Lloyd passes (--refine 0, 1, 2, ...).
                  const bool by_refine = a.options.value("ladder", std::string("steps")) == "refine";
                  const std::uint64_t first = by_refine ? 0 : a.options.value("ladder_start", ttt["ladder_start"].get<std::uint64_t>());
                  const std::uint64_t last = by_refine ? a.options.value("ladder_max_refine", std::uint64_t{30}) : lmax;
                  for (std::uint64_t st = first; st <= last;
                       st = by_refine ? st + 1
                                      : std::max<std::uint64_t>(st + 1, static_cast<std::uint64_t>(std::ceil(double(st) * ratio)))) {
                    if (by_refine)
                      q.refine = static_cast<int>(st);
                    else
                      q.max_steps = st;
                    const auto t0 = std::chrono::steady_clock::now();
                    KMeansResult rr = fit(m.x.data(), n, d, q);
                    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                    ladder.push_back(json{{"steps", q.max_steps}, {"refine", q.refine}, {"steps_run", rr.iterations},
                                          {"seconds", sec}, {"inertia", rr.inertia},
                                          {"rel_to_lloyd", rr.inertia / lloyd_inertia - 1}});
                    if (rr.inertia <= target) {
                      reached = true;
                      hit = st;
                      tt.push_back(sec);
                      break;
                    }
                    if (!by_refine && static_cast<std::uint64_t>(rr.iterations) < st) break;  // stopped early
                  }
                  if (reached) {
                    if (by_refine)
                      q.refine = static_cast<int>(hit);
                    else
                      q.max_steps = hit;
                    for (int r = 1; r < s.repetitions; ++r) {
                      const auto t0 = std::chrono::steady_clock::now();
                      (void)fit(m.x.data(), n, d, q);
                      tt.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
                    }
                    c["time_to_target_seconds"] = stats_json(stats_of(tt));
                  }
                  c["time_to_target"] = json{{"target_rel", ttt_rel},
                                             {"target_inertia", target},
                                             {"reference", "personakit lloyd of this group (same init, converged)"},
                                             {"reached", reached},
                                             {"ladder_over", by_refine ? "refine" : "steps"},
                                             {"steps", reached ? json(q.max_steps) : json(nullptr)},
                                             {"refine", reached ? json(q.refine) : json(nullptr)},
                                             {"times", tt},
                                             {"ladder", ladder}};
                }
              }
            } catch (const std::exception& e) {
              c["status"] = "error";
              c["note"] = e.what();
            }
            cases.push_back(c);
          }

          // ---- peers
          for (const auto& pe : s.peers) {
            json c;
            c["id"] = group + "/" + pe.label;
            c["group"] = group;
            c["dataset"] = ds.name;
            c["n"] = n;
            c["d"] = d;
            c["k"] = k;
            c["threads"] = t;
            c["runner"] = "peer";
            c["algorithm"] = pe.label;
            if (pe.label != pe.name) c["peer"] = pe.name;
            const int mi = pe.options.value("max_iter", s.max_iter);
            const double tol = pe.options.value("tol", s.tol);
            c["options"] = json{{"max_iter", mi}, {"tol", tol}};
            for (const char* key : {"batch_size", "max_steps", "max_no_improvement", "reassignment_ratio"})
              if (pe.options.contains(key)) c["options"][key] = pe.options[key];
            if (!peers_ok) {
              c["status"] = "skipped";
              c["note"] = o.no_peers ? "--no-peers" : "peer runner unavailable";
              cases.push_back(c);
              continue;
            }
            say("case " + c["id"].get<std::string>());
            std::ostringstream cmd;
            const std::string errfile = (fs::path(cache) / "peer-stderr.txt").string();
            const std::string cfile = s.exact_inertia ? centroids_file(pe.label) : std::string();
            cmd << "OMP_NUM_THREADS=" << t << " OPENBLAS_NUM_THREADS=" << t << " MKL_NUM_THREADS=" << t << " "
                << shell_quote(o.python) << " " << shell_quote(peers_dir + "/run_peer.py") << " --peer "
                << pe.name << " --data " << shell_quote(file) << " --dataset " << shell_quote(ds.dataset)
                << " --init " << shell_quote(init_file) << " --max-iter " << mi << " --tol " << std::setprecision(17)
                << tol << " --threads " << t << " --repetitions " << s.repetitions << " --warmup " << s.warmup
                << " --seed " << s.seed;
            if (pe.options.contains("batch_size")) cmd << " --batch-size " << pe.options["batch_size"].get<long>();
            if (pe.options.contains("max_steps")) {
              std::uint64_t ms = pe.options["max_steps"].get<std::uint64_t>();
              if (s.quick_max_steps > 0) ms = std::min(ms, s.quick_max_steps);
              cmd << " --max-steps " << ms;
              c["options"]["max_steps"] = ms;
            }
            if (pe.options.contains("max_no_improvement"))
              cmd << " --max-no-improvement " << pe.options["max_no_improvement"].get<long>();
            if (pe.options.contains("reassignment_ratio"))
              cmd << " --reassignment-ratio " << pe.options["reassignment_ratio"].get<double>();
            if (!cfile.empty()) cmd << " --centroids-out " << shell_quote(cfile);
            if (ttt.is_object() && pe.name == "sklearn-minibatch" && pe.options.value("time_to_target", true) &&
                std::isfinite(lloyd_inertia) && lloyd_inertia > 0)
              cmd << " --target-inertia " << (1 + ttt_rel) * lloyd_inertia << " --ladder-start "
                  << ttt["ladder_start"].get<std::uint64_t>() << " --ladder-ratio " << ttt["ladder_ratio"].get<double>()
                  << " --ladder-max-steps "
                  << std::min(pe.options.value("ladder_max_steps", ttt["ladder_max_steps"].get<std::uint64_t>()),
                              ttt["ladder_max_steps"].get<std::uint64_t>());
            cmd << " 2>" << shell_quote(errfile);
            int rc = 0;
            std::string res = capture(cmd.str(), &rc);
            json pj;
            try {
              pj = json::parse(last_line(res));
            } catch (const std::exception&) {
              std::ifstream ef(errfile);
              std::stringstream ss;
              ss << ef.rdbuf();
              std::string tail = trim(ss.str());
              if (tail.size() > 400) tail = tail.substr(tail.size() - 400);
              c["status"] = "error";
              c["note"] = "run_peer.py exit " + std::to_string(rc) + ": " + tail;
              cases.push_back(c);
              continue;
            }
            c["status"] = pj.value("status", "error");
            if (pj.contains("note")) c["note"] = pj["note"];
            if (c["status"] == "ok") {
              std::vector<double> times = pj["times"].get<std::vector<double>>();
              std::vector<int> iters = pj["iterations"].get<std::vector<int>>();
              std::vector<double> spi;
              for (std::size_t i = 0; i < times.size(); ++i) spi.push_back(times[i] / std::max(1, iters[i]));
              c["repetitions"] = times.size();
              c["times"] = times;
              c["seconds"] = stats_json(stats_of(times));
              c["iterations"] = iters.empty() ? 0 : iters.back();
              c["iterations_all"] = iters;
              c["seconds_per_iteration"] = stats_json(stats_of(spi));
              c["inertia"] = pj["inertia"];
              c["inertia_reported"] = pj["inertia_reported"];
              c["peak_rss_mb"] = pj["peak_rss_mb"];
              c["peer_settings"] = pj["settings"];
              if (pe.name == "sklearn-minibatch") c["steps"] = c["iterations"];
              if (pj.contains("time_to_target")) {
                c["time_to_target"] = pj["time_to_target"];
                const json& tj = pj["time_to_target"];
                if (tj.value("reached", false) && tj.contains("times") && !tj["times"].empty())
                  c["time_to_target_seconds"] = stats_json(stats_of(tj["times"].get<std::vector<double>>()));
              }
              if (!cfile.empty()) {
                try {
                  std::size_t rk = 0, rd = 0;
                  std::vector<float> pc = read_npy(cfile, &rk, &rd);
                  if (rk != k || rd != d) throw personakit::Error(cfile + ": wrong shape");
                  c["inertia_f64"] = inertia_f64(m.x.data(), n, d, pc.data(), k);
                  c["centroids_file"] = cfile;
                } catch (const std::exception& e) {
                  c["note"] = std::string("final centroids not read: ") + e.what();
                }
              }
            }
            cases.push_back(c);
          }

          // ---- relative inertia vs personakit lloyd of the same group
          if (std::isfinite(lloyd_inertia) && lloyd_inertia > 0) {
            for (auto& c : cases) {
              if (c["group"] == group && c.value("status", "") == "ok" && c["inertia"].is_number()) {
                c["inertia_rel_diff"] = std::fabs(c["inertia"].get<double>() - lloyd_inertia) / lloyd_inertia;
                // Signed: > 0 means worse than converged Lloyd. The fp64 recomputation when made
                // (the same formula for every party), else the party's own full-data inertia.
                const bool f64 = c.contains("inertia_f64") && std::isfinite(lloyd_inertia_f64);
                c["inertia_rel_lloyd"] = f64 ? c["inertia_f64"].get<double>() / lloyd_inertia_f64 - 1
                                             : c["inertia"].get<double>() / lloyd_inertia - 1;
              }
            }
          }

          // ---- checkpoint (see above)
          {
            json partial = doc;
            partial["complete"] = false;
            partial["cases"] = cases;
            partial["assign_passes"] = assign_passes;
            partial["suite"] = s.raw;
            cli::write_file_atomic(o.output_file, partial.dump(1) + "\n");
          }

          // ---- the assignment pass at the final centroids: rate and roofline fraction
          if (s.assign_pass) {
            const std::vector<float>& cen = final_centroids.empty() ? init : final_centroids;
            json ap = measure_assign_pass(m.x.data(), n, d, cen.data(), k, t, roof[std::to_string(t)]);
            ap["group"] = group;
            ap["dataset"] = ds.name;
            ap["n"] = n;
            ap["d"] = d;
            ap["k"] = k;
            ap["threads"] = t;
            assign_passes.push_back(ap);
            // Effective rate of each Lloyd fit: 2·N·K·D·iterations / fit time.
            for (auto& c : cases) {
              if (c["group"] == group && c.value("status", "") == "ok" && c["algorithm"] == "lloyd") {
                double flops = 2.0 * double(n) * double(k) * double(d) * c["iterations"].get<double>();
                c["lloyd_gflops_effective"] = flops / c["seconds"]["median"].get<double>() * 1e-9;
              }
            }
          }
        }
      }
    }
    omp_set_num_threads(saved_threads);

    doc["cases"] = cases;
    doc["assign_passes"] = assign_passes;
    doc["initializations"] = inits;
    doc["checks"] = evaluate_checks(s.checks, cases);
    doc["suite"] = s.raw;
    {
      double la[3] = {0, 0, 0};
      if (getloadavg(la, 3) == 3) doc["environment"]["loadavg_end"] = json::array({la[0], la[1], la[2]});
    }
    doc["wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_run).count();

    doc["complete"] = true;
    cli::write_file_atomic(o.output_file, doc.dump(1) + "\n");

    out << "suite " << s.name << (o.quick ? " (quick)" : "") << ": " << cases.size() << " cases, isa "
        << doc["environment"]["isa"].get<std::string>() << ", " << doc["environment"]["cpu_model"].get<std::string>()
        << "\n";
    print_table(doc, out);
    if (!assign_passes.empty()) {
      out << "\nassignment pass at the final centroids (fp32, median of runs):\n";
      for (const auto& ap : assign_passes) {
        out << "  " << ap["group"].get<std::string>() << ": " << fmt(jnum(ap, "seconds"), 3) << " s, "
            << fmt(jnum(ap, "gflops"), 4) << " GFLOP/s, " << fmt(jnum(ap, "gbps"), 3) << " GB/s, "
            << fmt(100 * jnum(ap, "roofline_fraction"), 3) << " % of the roofline bound ("
            << ap.value("bound", "?") << "-bound)\n";
      }
    }
    print_checks(doc["checks"], out);
    out << "\nwall time " << fmt(doc["wall_seconds"].get<double>(), 3) << " s; results: " << o.output_file << "\n";
    out << "report: /usr/bin/python3 reports/make_report.py " << o.output_file << " --out reports/<name>\n";
    return 0;
  });
}

}  // namespace personakit::bench

// ------------------------------------------------------------------ CLI wiring

void add_bench_command(CLI::App& app) {
  using namespace personakit::bench;
  CLI::App* bench = app.add_subcommand("bench", "benchmark suites, peers, comparisons, roofline");
  bench->require_subcommand(1);

  // Global options are applied by run_cli after parsing; subcommand callbacks run
  // during parsing, so apply --threads / --isa here too.
  auto apply_globals = [&app]() -> bool {
    return personakit::bench::apply_global_options(app);
  };

  // Shared with the callbacks, which CLI11 keeps as long as the app: the options stay alive.
  auto ro = std::make_shared<RunOptions>();
  CLI::App* run = bench->add_subcommand("run", "run a suite: personakit algorithms and peers, one JSON per run");
  run->add_option("suite", ro->suite, "suite file (bench/suites/*.json)")->required()->check(CLI::ExistingFile);
  run->add_option("--out", ro->out_dir, "directory for the result JSON (default bench-results)");
  run->add_option("--cache", ro->cache_dir, "generated data and initial centroids (default OUT/cache)");
  run->add_option("--peers-dir", ro->peers_dir, "directory holding run_peer.py (default: searched)");
  run->add_option("--python", ro->python, "Python interpreter for the peers (default /usr/bin/python3)");
  run->add_option("--roofline-seconds", ro->roofline_seconds, "seconds per roofline probe (default 0.25)");
  run->add_flag("--quick", ro->quick, "the suite's quick variant: fewer rows, 1 repetition");
  run->add_flag("--no-peers", ro->no_peers, "skip scikit-learn / FAISS");
  run->callback([ro, &app, apply_globals]() {
    if (!apply_globals()) throw CLI::RuntimeError(2);
    ro->quiet = ro->quiet || app.get_option("--quiet")->count() > 0;
    int rc = run_bench(*ro, std::cout, std::cerr);
    if (rc) throw CLI::RuntimeError(rc);
  });

  auto co = std::make_shared<CompareOptions>();
  CLI::App* cmp = bench->add_subcommand("compare", "per-case ratios of two result files, noise-aware verdict");
  cmp->add_option("a", co->a, "baseline result JSON")->required()->check(CLI::ExistingFile);
  cmp->add_option("b", co->b, "candidate result JSON")->required()->check(CLI::ExistingFile);
  cmp->add_option("--floor", co->floor, "relative difference always treated as noise (default 0.02)");
  cmp->add_flag("--fail-on-slower", co->fail_on_slower, "exit 1 when a case got slower");
  cmp->add_flag("--json", co->json, "print one JSON object");
  cmp->callback([co, &app]() {
    co->json = co->json || app.get_option("--json")->count() > 0;
    int rc = run_compare(*co, std::cout, std::cerr);
    if (rc) throw CLI::RuntimeError(rc);
  });

  auto fo = std::make_shared<RooflineOptions>();
  CLI::App* roof = bench->add_subcommand("roofline", "measure this machine's FP32 FMA peak and read bandwidth");
  roof->add_option("--seconds", fo->seconds, "seconds per probe (default 0.5)");
  roof->add_flag("--json", fo->json, "print one JSON object");
  roof->callback([fo, &app, apply_globals]() {
    if (!apply_globals()) throw CLI::RuntimeError(2);
    fo->json = fo->json || app.get_option("--json")->count() > 0;
    int rc = run_roofline(*fo, std::cout, std::cerr);
    if (rc) throw CLI::RuntimeError(rc);
  });
}
