// Dense relabelling shared by the internal and external scores.
#include "labels.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "personakit/error.hpp"

namespace personakit::score_detail {

DenseLabels dense_labels(const std::int32_t* labels, std::size_t n, const std::uint8_t* drop) {
  DenseLabels out;
  out.id.assign(n, -1);
  std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
  for (std::size_t i = 0; i < n; ++i) {
    if (drop && drop[i]) continue;
    lo = std::min<std::int64_t>(lo, labels[i]);
    hi = std::max<std::int64_t>(hi, labels[i]);
    ++out.kept;
  }
  if (out.kept == 0) return out;
  const std::int64_t range = hi - lo + 1;
  // A direct table costs 4 bytes per value in the range: use it while that stays
  // within a small multiple of the labels themselves.
  if (range <= static_cast<std::int64_t>(4 * n) + 4096) {
    std::vector<std::int32_t> table(static_cast<std::size_t>(range), 0);
    for (std::size_t i = 0; i < n; ++i)
      if (!(drop && drop[i])) table[static_cast<std::size_t>(labels[i] - lo)] = 1;
    std::int32_t next = 0;
    for (std::int64_t v = 0; v < range; ++v)
      if (table[v]) { table[v] = next++; out.values.push_back(static_cast<std::int32_t>(v + lo)); }
    out.counts.assign(out.values.size(), 0);
    for (std::size_t i = 0; i < n; ++i) {
      if (drop && drop[i]) continue;
      const std::int32_t k = table[static_cast<std::size_t>(labels[i] - lo)];
      out.id[i] = k;
      ++out.counts[k];
    }
    return out;
  }
  std::vector<std::int32_t> v;
  v.reserve(out.kept);
  for (std::size_t i = 0; i < n; ++i)
    if (!(drop && drop[i])) v.push_back(labels[i]);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  out.values = v;
  out.counts.assign(v.size(), 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (drop && drop[i]) continue;
    const auto k = static_cast<std::int32_t>(std::lower_bound(v.begin(), v.end(), labels[i]) - v.begin());
    out.id[i] = k;
    ++out.counts[k];
  }
  return out;
}

DenseLabels internal_labels(const std::int32_t* labels, std::size_t n, bool skip_negative,
                            const char* who) {
  std::vector<std::uint8_t> drop;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] >= 0) continue;
    if (!skip_negative)
      throw Error(std::string(who) + ": label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                  " is negative (pass skip_negative to drop noise rows)");
    if (drop.empty()) drop.assign(n, 0);
    drop[i] = 1;
  }
  return dense_labels(labels, n, drop.empty() ? nullptr : drop.data());
}

}  // namespace personakit::score_detail
