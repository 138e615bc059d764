// Preprocessing: log1p and standard/robust scaling, fitted in streamed passes.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "h5util.hpp"
#include "rng.hpp"

namespace personakit::datasets {

const char* scale_name(Transform::Scale s) {
  switch (s) {
    case Transform::Scale::standard: return "standard";
    case Transform::Scale::robust: return "robust";
    default: return "none";
  }
}

Transform::Scale parse_scale(const std::string& s) {
  if (s == "none") return Transform::Scale::none;
  if (s == "standard") return Transform::Scale::standard;
  if (s == "robust") return Transform::Scale::robust;
  throw Error("unknown scaling '" + s + "' (valid: none, standard, robust)");
}

namespace {
void check_cols(const std::vector<int>& cols, std::size_t d) {
  for (int c : cols)
    if (c < 0 || static_cast<std::size_t>(c) >= d)
      throw Error("log1p column " + std::to_string(c) + " is outside 0.." + std::to_string(d - 1));
}

[[noreturn]] void negative(double v, std::uint64_t row, std::size_t col) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  throw Error("log1p column " + std::to_string(col) + " has a negative value (" + buf + ") at row " +
              std::to_string(row) + "; log1p needs values >= 0");
}
}  // namespace

void Transform::apply(float* x, std::size_t n, std::size_t d, std::uint64_t row0) const {
  if (empty() || n == 0) return;
  check_cols(log1p_cols, d);
  const bool sc = scale != Scale::none;
  if (sc && (center.size() != d || scale_by.size() != d))
    throw Error("the transform has " + std::to_string(center.size()) + " columns; the data has " + std::to_string(d));
  std::vector<unsigned char> lg(d, 0);
  for (int c : log1p_cols) lg[static_cast<std::size_t>(c)] = 1;
  // Multiply by the fp64 reciprocal: a division per value would cost more than the
  // rest of a streamed pass's preprocessing.
  std::vector<double> c0(d, 0.0), inv(d, 1.0);
  if (sc)
    for (std::size_t j = 0; j < d; ++j) {
      c0[j] = center[j];
      inv[j] = 1.0 / scale_by[j];
    }
  for (std::size_t i = 0; i < n; ++i) {
    float* row = x + i * d;
    for (std::size_t j = 0; j < d; ++j) {
      double v = row[j];
      if (lg[j]) {
        if (v < 0) negative(v, row0 + i, j);
        v = std::log1p(v);
      }
      if (sc) v = (v - c0[j]) * inv[j];
      row[j] = static_cast<float>(v);
    }
  }
}

std::vector<int> parse_columns(const std::string& spec, const std::vector<std::string>& names) {
  std::vector<int> out;
  std::size_t pos = 0;
  auto list = [&] {
    std::string s;
    for (std::size_t i = 0; i < names.size() && i < 20; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > 20) s += ", ...";
    return s;
  };
  while (pos <= spec.size()) {
    std::size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    std::string tok = spec.substr(pos, comma - pos);
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.front()))) tok.erase(tok.begin());
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back()))) tok.pop_back();
    pos = comma + 1;
    if (tok.empty()) {
      if (spec.find_first_not_of(" ,") == std::string::npos) break;  // "" or only separators
      throw Error("column list '" + spec + "' has an empty entry");
    }
    auto it = std::find(names.begin(), names.end(), tok);
    if (it != names.end()) {
      out.push_back(static_cast<int>(it - names.begin()));
    } else if (std::all_of(tok.begin(), tok.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      unsigned long long v = tok.size() > 9 ? ~0ULL : std::stoull(tok);
      if (v >= names.size())
        throw Error("column " + tok + " is out of range (" + std::to_string(names.size()) + " columns: 0.." +
                    std::to_string(names.size() - 1) + ")");
      out.push_back(static_cast<int>(v));
    } else {
      throw Error("unknown column '" + tok + "' (columns: " + list() + ")");
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Transform fit_transform(RowSource& src, Transform::Scale s, std::vector<int> log1p_cols, std::uint64_t seed) {
  const std::size_t n = src.rows(), d = src.cols();
  if (n == 0 || d == 0) throw Error("cannot fit a transform on " + std::to_string(n) + " x " + std::to_string(d) + " data");
  std::sort(log1p_cols.begin(), log1p_cols.end());
  log1p_cols.erase(std::unique(log1p_cols.begin(), log1p_cols.end()), log1p_cols.end());
  check_cols(log1p_cols, d);
  Transform t;
  t.log1p_cols = log1p_cols;
  t.scale = s;
  std::vector<unsigned char> lg(d, 0);
  for (int c : log1p_cols) lg[static_cast<std::size_t>(c)] = 1;
  auto value = [&](const float* row, std::size_t j, std::uint64_t r) {
    double v = row[j];
    if (lg[j]) {
      if (v < 0) negative(v, r, j);
      v = std::log1p(v);
    }
    return v;
  };
  if (s == Transform::Scale::none) {
    if (!log1p_cols.empty())  // one pass to report negative values now, not at predict time
      src.for_each_block(1, [&](const float* x, std::size_t r0, std::size_t nr) {
        for (std::size_t i = 0; i < nr; ++i)
          for (int c : log1p_cols) (void)value(x + i * d, static_cast<std::size_t>(c), r0 + i);
      });
    return t;
  }
  t.center.assign(d, 0.0);
  t.scale_by.assign(d, 1.0);
  if (s == Transform::Scale::standard) {
    // Sums of (v - shift) and (v - shift)^2 with shift = row 0 (limits cancellation),
    // accumulated per group of kGroup consecutive rows (groups start at multiples of
    // kGroup in the file; a group may span two blocks) and added in row order: the
    // same bits whatever block size the source uses.
    constexpr std::size_t kGroup = 4096;
    std::vector<double> shift(d, 0.0), s1(d, 0.0), s2(d, 0.0), g1(d, 0.0), g2(d, 0.0);
    bool have_shift = false;
    src.for_each_block(1, [&](const float* x, std::size_t r0, std::size_t nr) {
      if (!have_shift) {
        for (std::size_t j = 0; j < d; ++j) shift[j] = value(x, j, r0);
        have_shift = true;
      }
      for (std::size_t i = 0; i < nr; ++i) {
        const std::uint64_t r = r0 + i;
        for (std::size_t j = 0; j < d; ++j) {
          double v = value(x + i * d, j, r) - shift[j];
          g1[j] += v;
          g2[j] += v * v;
        }
        if ((r + 1) % kGroup == 0 || r + 1 == n) {
          for (std::size_t j = 0; j < d; ++j) {
            s1[j] += g1[j];
            s2[j] += g2[j];
            g1[j] = g2[j] = 0.0;
          }
        }
      }
    });
    const double dn = static_cast<double>(n);
    for (std::size_t j = 0; j < d; ++j) {
      double m = s1[j] / dn;
      double var = s2[j] / dn - m * m;
      double sd = var > 0 ? std::sqrt(var) : 0.0;
      t.center[j] = shift[j] + m;
      t.scale_by[j] = sd > 0 ? sd : 1.0;
    }
    return t;
  }
  // Robust: median and IQR from a uniform sample of m rows chosen by selection
  // sampling (Knuth's Algorithm S): row r is taken with probability
  // (m - taken) / (n - r), using a uniform keyed by (seed, r). Exactly m rows,
  // in one sequential pass, independent of the block size.
  const std::size_t cap = std::max<std::size_t>(1, std::min<std::size_t>(1000000, (std::size_t(256) << 20) / (8 * d)));
  const std::size_t m = std::min(n, cap);
  std::vector<double> samp(m * d);  // column-major
  std::size_t taken = 0;
  src.for_each_block(1, [&](const float* x, std::size_t r0, std::size_t nr) {
    for (std::size_t i = 0; i < nr && taken < m; ++i) {
      std::uint64_t r = r0 + i;
      double u = detail::CounterRng(seed, 0x726f62757374ULL, r).uniform();
      if (u * static_cast<double>(n - r) < static_cast<double>(m - taken)) {
        for (std::size_t j = 0; j < d; ++j) samp[j * m + taken] = value(x + i * d, j, r);
        ++taken;
      }
    }
  });
  if (taken != m) throw Error("robust scaling: sampled " + std::to_string(taken) + " rows; expected " + std::to_string(m));
  auto quant = [&](const std::vector<double>& a, double p) {
    double h = static_cast<double>(m - 1) * p;
    std::size_t lo = static_cast<std::size_t>(std::floor(h));
    std::size_t hi = std::min(lo + 1, m - 1);
    return a[lo] + (h - static_cast<double>(lo)) * (a[hi] - a[lo]);
  };
  std::vector<double> col(m);
  for (std::size_t j = 0; j < d; ++j) {
    std::copy_n(samp.begin() + static_cast<std::ptrdiff_t>(j * m), m, col.begin());
    std::sort(col.begin(), col.end());
    double iqr = quant(col, 0.75) - quant(col, 0.25);
    t.center[j] = quant(col, 0.5);
    t.scale_by[j] = iqr > 0 ? iqr : 1.0;
  }
  return t;
}

}  // namespace personakit::datasets
