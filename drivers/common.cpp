// Shared CLI helpers: error mapping, atomic writes, progress, parsing.
#include "common.hpp"

#include <omp.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <new>
#include <ostream>
#include <random>
#include <sstream>

#include "personakit/isa.hpp"

namespace personakit::cli {

std::atomic<bool> g_interrupted{false};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw personakit::Error(path.empty() ? what : path + ": " + what);
}
[[noreturn]] void usage(const std::string& what) { throw UsageError(what); }

int guarded(std::ostream& err, const std::function<int()>& body) {
  auto say = [&](const std::string& msg) {
    // One line, whatever the library put in the message.
    std::string line = msg;
    std::replace(line.begin(), line.end(), '\n', ' ');
    err << "personakit: error: " << line << "\n" << std::flush;
  };
  try {
    return body();
  } catch (const UsageError& e) {
    say(e.what());
    return kExitUsage;
  } catch (const Cancelled& e) {
    say(e.what());
    return kExitCancelled;
  } catch (const personakit::Error& e) {
    if (std::string(e.what()).find("cancelled") != std::string::npos && g_interrupted.load()) {
      say("cancelled (interrupt)");
      return kExitCancelled;
    }
    say(e.what());
    return kExitData;
  } catch (const std::bad_alloc&) {
    say("out of memory (try --stream or a smaller --memory-limit)");
    return kExitData;
  } catch (const std::exception& e) {
    say(e.what());
    return kExitData;
  } catch (...) {
    say("unknown internal error");
    return kExitData;
  }
}

void ProgressPrinter::check_cancel() const {
  if (g_interrupted.load(std::memory_order_relaxed)) throw Cancelled();
}

void ProgressPrinter::line(double elapsed, const std::string& text) {
  if (!enabled(elapsed)) return;
  err_ << text << "\n" << std::flush;
}

// ---- parsing ----

std::size_t parse_memory(const std::string& s) {
  std::string t;
  for (char ch : s)
    if (!std::isspace(static_cast<unsigned char>(ch))) t += ch;
  if (t.empty()) usage("--memory-limit: empty value (expected e.g. 512M)");
  double value = 0;
  const char* b = t.data();
  const char* e = t.data() + t.size();
  auto [p, ec] = std::from_chars(b, e, value);
  if (ec != std::errc() || p == b || !(value >= 0))
    usage("--memory-limit '" + s + "': expected a size such as 512M, 2G or 1048576");
  std::string suf = lower(std::string(p, e));
  if (!suf.empty() && suf.back() == 'b') suf.pop_back();
  if (suf.size() == 2 && suf[1] == 'i') suf.pop_back();
  double mult = 1;
  if (suf.empty()) mult = 1;
  else if (suf == "k") mult = 1024.0;
  else if (suf == "m") mult = 1024.0 * 1024;
  else if (suf == "g") mult = 1024.0 * 1024 * 1024;
  else if (suf == "t") mult = 1024.0 * 1024 * 1024 * 1024;
  else usage("--memory-limit '" + s + "': unknown unit (use K, M, G or T)");
  double bytes = value * mult;
  if (bytes > 1e18) usage("--memory-limit '" + s + "': too large");
  return static_cast<std::size_t>(bytes);
}

static std::size_t parse_k_value(const std::string& v, const std::string& whole) {
  std::size_t k = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), k);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty())
    usage("--k '" + whole + "': expected a range such as 2..20, 2..20:2 or 3,5,8");
  return k;
}

std::vector<std::size_t> parse_k_range(const std::string& s) {
  std::vector<std::size_t> ks;
  auto dots = s.find("..");
  if (dots != std::string::npos) {
    std::string a = s.substr(0, dots), rest = s.substr(dots + 2), step = "1";
    auto colon = rest.find(':');
    if (colon != std::string::npos) {
      step = rest.substr(colon + 1);
      rest = rest.substr(0, colon);
    }
    std::size_t lo = parse_k_value(a, s), hi = parse_k_value(rest, s), st = parse_k_value(step, s);
    if (st == 0) usage("--k '" + s + "': step must be at least 1");
    if (hi < lo) usage("--k '" + s + "': the range is empty (" + a + " > " + rest + ")");
    if ((hi - lo) / st > 100000) usage("--k '" + s + "': too many values");
    for (std::size_t k = lo; k <= hi; k += st) ks.push_back(k);
  } else {
    for (const auto& part : split_list(s, ',')) ks.push_back(parse_k_value(part, s));
    if (ks.empty()) usage("--k: empty list");
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  }
  if (ks.front() < 1) usage("--k '" + s + "': k must be at least 1");
  return ks;
}

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    auto b = cur.find_first_not_of(" \t");
    auto e = cur.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (char ch : s) {
    if (ch == sep) flush();
    else cur += ch;
  }
  flush();
  return out;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// ---- files ----

void check_output_path(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) usage("no output path given (-o FILE)");
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) fail(path, "cannot write output: it is a directory");
  fs::path dir = p.parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::exists(dir, ec)) fail(path, "cannot write output: directory '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) fail(path, "cannot write output: '" + dir.string() + "' is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    fail(path, "cannot write output: directory '" + dir.string() + "' is not writable");
  if (fs::exists(p, ec) && ::access(p.c_str(), W_OK) != 0 && ::access(dir.c_str(), W_OK) != 0)
    fail(path, "cannot write output: permission denied");
}

void write_file_atomic(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  check_output_path(path);
  fs::path p(path);
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd() % 1000000);
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(path, std::string("cannot write output: ") + std::strerror(errno));
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    ok = (std::fflush(f) == 0) && ok;
    ok = (::fsync(::fileno(f)) == 0 || errno == EINVAL) && ok;
    int saved = errno;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
      std::remove(tmp.c_str());
      fail(path, std::string("write failed: ") + std::strerror(saved ? saved : errno));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    std::remove(tmp.c_str());
    fail(path, std::string("cannot rename the temporary file into place: ") + std::strerror(saved));
  }
}

// ---- data checks ----

NonFinite find_nonfinite(const float* x, std::size_t n, std::size_t d, std::uint64_t row0) {
  NonFinite nf;
  const std::size_t total = n * d;
  std::uint64_t count = 0;
  std::size_t first = total;
#pragma omp parallel for reduction(+ : count) reduction(min : first) schedule(static)
  for (std::size_t i = 0; i < total; ++i) {
    if (!std::isfinite(x[i])) {
      ++count;
      if (i < first) first = i;
    }
  }
  nf.count = count;
  if (count && d) {
    nf.row = row0 + first / d;
    nf.col = first % d;
  }
  return nf;
}

void merge_nonfinite(NonFinite& into, const NonFinite& block) {
  if (block.count == 0) return;
  if (into.count == 0) {
    into = block;
  } else {
    into.count += block.count;
  }
}

std::string describe_nonfinite(const NonFinite& nf, const std::vector<std::string>& names) {
  std::ostringstream s;
  s << nf.count << (nf.count == 1 ? " NaN/Inf value" : " NaN/Inf values")
    << " in the features (first at row " << nf.row << ", column " << nf.col;
  if (nf.col < names.size() && !names[nf.col].empty()) s << " '" << names[nf.col] << "'";
  s << ")";
  return s.str();
}

static std::uint64_t hash_row(const float* x, std::size_t d) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t j = 0; j < d; ++j) {
    float v = x[j] == 0.0f ? 0.0f : x[j];  // -0 == +0
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    h = (h ^ u) * 1099511628211ull;
  }
  return h;
}

void DistinctRows::add(const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n && !enough(); ++i) {
    const float* r = x + i * d_;
    std::uint64_t h = hash_row(r, d_);
    bool seen = false;
    auto [b, e] = index_.equal_range(h);
    for (auto it = b; it != e && !seen; ++it) {
      const float* s = rows_.data() + it->second * d_;
      seen = true;
      for (std::size_t j = 0; j < d_ && seen; ++j) seen = (r[j] == s[j]);
    }
    if (!seen) {
      index_.emplace(h, count());
      rows_.insert(rows_.end(), r, r + d_);
    }
  }
}

// ---- formatting ----

std::string format_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  std::ostringstream s;
  s << std::fixed << std::setprecision(u ? 1 : 0) << b << " " << units[u];
  return s.str();
}

std::string format_count(double n) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(0) << n;
  std::string t = s.str();
  std::string out;
  int c = 0;
  for (auto it = t.rbegin(); it != t.rend(); ++it) {
    if (c && c % 3 == 0 && *it != '-') out += ',';
    out += *it;
    ++c;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string format_seconds(double s) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(s < 10 ? 3 : 1) << s << " s";
  return o.str();
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

int threads_in_use() { return omp_get_max_threads(); }
std::string isa_in_use() { return isa_name(active_isa()); }

}  // namespace personakit::cli
