// Internal helpers shared by the subcommands (not installed).
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "personakit/error.hpp"

namespace personakit::cli {

// Raised by a progress callback when SIGINT arrived; mapped to exit code 130.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled (interrupt)") {}
};

// Set by the SIGINT handler that main() installs; polled by progress callbacks.
extern std::atomic<bool> g_interrupted;

// Runs body; maps exceptions to one error line on err and an exit code.
int guarded(std::ostream& err, const std::function<int()>& body);

// Runs fn; a personakit::Error whose message does not already name `path`
// is re-thrown as "PATH: message".
template <class F>
decltype(auto) with_file(const std::string& path, F&& fn);

[[noreturn]] void fail(const std::string& path, const std::string& what);
[[noreturn]] void usage(const std::string& what);

class Stopwatch {
 public:
  Stopwatch() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

// Progress lines on stderr, only after `after` seconds and never with --quiet.
class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& err, const Common& c) : err_(err), quiet_(c.quiet), after_(c.progress_after) {}
  bool enabled(double elapsed) const { return !quiet_ && elapsed >= after_; }
  // Prints the line (newline added) when enabled. check_cancel throws Cancelled after SIGINT.
  void line(double elapsed, const std::string& text);
  void check_cancel() const;

 private:
  std::ostream& err_;
  bool quiet_;
  double after_;
};

// Count of NaN/Inf values and the first one's position (row, column), or count 0.
struct NonFinite {
  std::uint64_t count = 0;
  std::uint64_t row = 0, col = 0;
};
NonFinite find_nonfinite(const float* x, std::size_t n, std::size_t d, std::uint64_t row0 = 0);
void merge_nonfinite(NonFinite& into, const NonFinite& block);
// "3 NaN/Inf values in the features (first at row 17, column 2 'monetary')".
std::string describe_nonfinite(const NonFinite& nf, const std::vector<std::string>& names);

// Tracks distinct rows up to a cap (k): stops storing once `cap` are found.
class DistinctRows {
 public:
  DistinctRows(std::size_t d, std::size_t cap) : d_(d), cap_(cap) {}
  void add(const float* x, std::size_t n);
  bool enough() const { return count() >= cap_; }
  std::size_t count() const { return rows_.size() / (d_ ? d_ : 1); }

 private:
  std::size_t d_, cap_;
  std::vector<float> rows_;
  std::unordered_multimap<std::uint64_t, std::size_t> index_;  // row hash -> stored row
};

std::string format_bytes(double bytes);
std::string format_count(double n);   // 1234567 -> "1,234,567"
std::string format_seconds(double s);
std::string json_number(double v);    // finite -> shortest round-trip text, else "null"
std::vector<std::string> split_list(const std::string& s, char sep = ',');
std::string lower(std::string s);
int threads_in_use();
std::string isa_in_use();

// ---- template definitions ----
template <class F>
decltype(auto) with_file(const std::string& path, F&& fn) {
  try {
    return fn();
  } catch (const personakit::Error& e) {
    std::string msg = e.what();
    if (path.empty() || msg.find(path) != std::string::npos) throw;
    throw personakit::Error(path + ": " + msg);
  }
}

}  // namespace personakit::cli
