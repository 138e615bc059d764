// Synthetic customers with latent personas, and Gaussian blobs (docs/generator.md).
//
// Every value of row r is a pure function of (seed, r): a CounterRng keyed by
// (seed, stream, r) draws the row's numbers in a fixed order, and the row's persona
// comes from a keyed bijection of [0, rows) (a Feistel network with cycle walking)
// laid over exact per-persona counts. So the bytes written depend neither on the
// thread count nor on chunk_rows, and each persona's size is exact.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "h5util.hpp"
#include "rng.hpp"

namespace personakit::datasets {

using detail::CounterRng;
using detail::Handle;
using detail::mix64;

namespace {

constexpr std::uint64_t kStreamRow = 1, kStreamNoise = 2, kStreamCentre = 3, kStreamPersona = 4, kStreamPerm = 5;

const std::vector<std::string> kCustomerNames = {
    "recency_days",      "frequency_per_year", "monetary_value",  "avg_basket",
    "tenure_months",     "share_online",       "share_store",     "share_app",
    "discount_sensitivity", "return_rate",     "support_contacts", "email_engagement",
    "age",               "sessions_per_month", "review_score",    "days_between_orders"};

// One persona's parameters. "log" parameters are mean and sd of a normal in log
// space (log-normal values); "logit" ones of a normal passed through the logistic.
struct Persona {
  const char* name;
  double weight;                  // relative size
  double rec_mu, rec_sd;          // log days since last order
  double freq_mu, freq_sd;        // log orders per year
  double basket_mu, basket_sd;    // log average order value
  double tenure_mu, tenure_sd;    // months (normal)
  double ch[3];                   // channel logits online, store, app
  double ch_sd;                   // per-customer noise on each logit
  double disc_mu, disc_sd;        // logit discount sensitivity
  double ret_mu, ret_sd;          // logit return rate
  double sup_mu, sup_sd;          // log (support contacts per year + 1)
  double email_mu, email_sd;      // logit email engagement
  double age_mu, age_sd;          // years (normal)
  double sess_mu, sess_sd;        // log sessions per month
  double review_mu, review_sd;    // average review score 1..5 (normal)
};

// clang-format off
const Persona kArchetypes[8] = {
  // name                 weight rec(log d)      freq(log/yr)     basket(log)       tenure(m)  channels o/s/a     chsd disc       ret          sup           email        age       sess          review
  {"loyal_high_value",     0.10, std::log(12.0), 0.5, std::log(24.0), 0.35, std::log(85.0), 0.35, 84, 30, {1.0, 0.6, 0.8}, 0.5, -1.5, 0.6, -2.8, 0.5, std::log(3.0), 0.4, 1.0, 0.6, 48, 10, std::log(14.0), 0.4, 4.5, 0.3},
  {"bargain_hunters",      0.22, std::log(30.0), 0.6, std::log(10.0), 0.40, std::log(28.0), 0.30, 36, 20, {1.2, 0.2, 0.6}, 0.5,  2.0, 0.6, -2.2, 0.5, std::log(2.5), 0.4, 0.5, 0.6, 38, 12, std::log(10.0), 0.5, 3.8, 0.4},
  {"occasional_store",     0.25, std::log(90.0), 0.6, std::log(3.0),  0.40, std::log(55.0), 0.35, 60, 36, {-0.8, 1.6, -1.2}, 0.5, -0.3, 0.6, -3.0, 0.5, std::log(1.8), 0.4, -1.2, 0.6, 57, 13, std::log(2.0), 0.6, 4.0, 0.4},
  {"lapsed",               0.15, std::log(320.0), 0.4, std::log(1.5), 0.40, std::log(40.0), 0.40, 48, 30, {0.4, 0.5, 0.0}, 0.6,  0.3, 0.7, -2.5, 0.6, std::log(2.2), 0.5, -2.2, 0.6, 45, 15, std::log(0.8), 0.6, 3.2, 0.5},
  {"new_app_natives",      0.12, std::log(10.0), 0.5, std::log(8.0),  0.40, std::log(32.0), 0.30,  5,  3, {0.2, -1.0, 1.8}, 0.5,  0.8, 0.6, -2.0, 0.5, std::log(2.0), 0.4, 0.2, 0.6, 27,  6, std::log(25.0), 0.4, 4.1, 0.4},
  {"high_returners",       0.06, std::log(20.0), 0.5, std::log(14.0), 0.40, std::log(120.0), 0.35, 30, 18, {1.6, -0.2, 0.5}, 0.5,  0.0, 0.6, -0.6, 0.4, std::log(6.0), 0.4, 0.3, 0.6, 34,  9, std::log(18.0), 0.4, 3.0, 0.5},
  {"premium_online",       0.07, std::log(15.0), 0.5, std::log(12.0), 0.35, std::log(210.0), 0.30, 70, 30, {2.0, -0.5, 0.3}, 0.4, -2.0, 0.5, -2.4, 0.5, std::log(2.0), 0.4, 0.8, 0.5, 44,  9, std::log(12.0), 0.4, 4.3, 0.3},
  {"support_heavy_seniors",0.03, std::log(45.0), 0.5, std::log(5.0),  0.40, std::log(60.0), 0.35, 110, 40, {-0.5, 1.2, -1.5}, 0.5, 0.2, 0.6, -1.8, 0.5, std::log(9.0), 0.4, -0.5, 0.6, 71,  7, std::log(3.0), 0.5, 3.6, 0.5},
};
// clang-format on

// Personas 0..7 are the archetypes; persona j >= 8 perturbs archetype j mod 8 with
// draws keyed by (seed, j) (its own name "<archetype>_<j>").
std::vector<Persona> make_personas(std::size_t k, std::uint64_t seed, std::vector<std::string>& names) {
  std::vector<Persona> v;
  names.clear();
  for (std::size_t j = 0; j < k; ++j) {
    Persona p = kArchetypes[j % 8];
    std::string name = p.name;
    if (j >= 8) {
      CounterRng g(seed, kStreamPersona, j);
      p.weight *= std::exp(0.5 * g.normal());
      p.rec_mu += 0.35 * g.normal();
      p.freq_mu += 0.35 * g.normal();
      p.basket_mu += 0.35 * g.normal();
      p.tenure_mu = std::max(1.0, p.tenure_mu + 10 * g.normal());
      for (double& c : p.ch) c += 0.5 * g.normal();
      p.disc_mu += 0.5 * g.normal();
      p.ret_mu += 0.5 * g.normal();
      p.sup_mu += 0.3 * g.normal();
      p.email_mu += 0.5 * g.normal();
      p.age_mu = std::clamp(p.age_mu + 5 * g.normal(), 20.0, 85.0);
      p.sess_mu += 0.35 * g.normal();
      p.review_mu = std::clamp(p.review_mu + 0.3 * g.normal(), 1.5, 4.8);
      name.push_back('_');
      name.append(std::to_string(j));
    }
    v.push_back(p);
    names.push_back(name);
  }
  return v;
}

// Exact counts: one row each, the rest shared by weight with largest remainders
// (ties to the lower index).
std::vector<std::uint64_t> apportion(std::uint64_t rows, const std::vector<double>& w) {
  const std::size_t k = w.size();
  std::vector<std::uint64_t> c(k, 1);
  std::uint64_t rest = rows - k;
  double tot = 0;
  for (double x : w) tot += x;
  std::vector<std::pair<double, std::size_t>> rem;
  std::uint64_t given = 0;
  for (std::size_t j = 0; j < k; ++j) {
    double q = static_cast<double>(rest) * w[j] / tot;
    auto f = static_cast<std::uint64_t>(std::floor(q));
    if (f > rest - given) f = rest - given;
    c[j] += f;
    given += f;
    rem.push_back({q - static_cast<double>(f), j});
  }
  std::stable_sort(rem.begin(), rem.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; given < rest; i = (i + 1) % k, ++given) c[rem[i].second] += 1;
  return c;
}

// A keyed bijection of [0, n): a 4-round balanced Feistel network on the smallest
// even number of bits covering n, with cycle walking (under 4 rounds on average).
class Permutation {
 public:
  Permutation(std::uint64_t n, std::uint64_t key) : n_(n), key_(mix64(key ^ 0x7065726d75746524ULL)) {
    unsigned bits = 2;
    while (bits < 64 && (std::uint64_t(1) << bits) < n) ++bits;
    if (bits & 1) ++bits;
    half_ = bits / 2;
    mask_ = (std::uint64_t(1) << half_) - 1;
  }
  std::uint64_t operator()(std::uint64_t x) const {
    do x = round4(x);
    while (x >= n_);
    return x;
  }

 private:
  std::uint64_t round4(std::uint64_t x) const {
    std::uint64_t l = x >> half_, r = x & mask_;
    for (std::uint64_t i = 0; i < 4; ++i) {
      std::uint64_t f = mix64((key_ + i * detail::kGolden) ^ r) & mask_;
      std::uint64_t nl = r;
      r = l ^ f;
      l = nl;
    }
    return (l << half_) | r;
  }
  std::uint64_t n_, key_, mask_;
  unsigned half_;
};

// prefix + number (GCC 12 warns falsely, -Wrestrict, on "literal" + std::string).
std::string numbered(const char* prefix, std::size_t j) {
  std::string s(prefix);
  s.append(std::to_string(j));
  return s;
}

double logistic(double z) { return 1.0 / (1.0 + std::exp(-z)); }
double round_to(double v, double step) { return std::round(v / step) * step; }

// The 16 base features of one customer, drawn in a fixed order.
void customer_row(const Persona& p, CounterRng& g, double* f) {
  f[0] = std::min(730.0, std::round(std::exp(p.rec_mu + p.rec_sd * g.normal())));
  f[1] = std::max(1.0, std::round(std::exp(p.freq_mu + p.freq_sd * g.normal())));
  f[3] = round_to(std::exp(p.basket_mu + p.basket_sd * g.normal()), 0.01);
  // Annual spend: orders x basket x a mean-one log-normal factor (sd 0.25).
  f[2] = round_to(f[1] * f[3] * std::exp(0.25 * g.normal() - 0.03125), 0.01);
  f[4] = std::clamp(std::round(p.tenure_mu + p.tenure_sd * g.normal()), 0.0, 240.0);
  double e[3], s = 0;
  for (int i = 0; i < 3; ++i) s += (e[i] = std::exp(p.ch[i] + p.ch_sd * g.normal()));
  for (int i = 0; i < 3; ++i) f[5 + i] = e[i] / s;
  f[8] = logistic(p.disc_mu + p.disc_sd * g.normal());
  f[9] = 0.6 * logistic(p.ret_mu + p.ret_sd * g.normal());
  f[10] = std::max(0.0, std::round(std::exp(p.sup_mu + p.sup_sd * g.normal()) - 1.0));
  f[11] = logistic(p.email_mu + p.email_sd * g.normal());
  f[12] = std::clamp(std::round(p.age_mu + p.age_sd * g.normal()), 18.0, 95.0);
  f[13] = round_to(std::exp(p.sess_mu + p.sess_sd * g.normal()), 0.1);
  f[14] = round_to(std::clamp(p.review_mu + p.review_sd * g.normal(), 1.0, 5.0), 0.1);
  f[15] = 365.0 / f[1];
}

struct Plan {
  const GeneratorParams* p;
  bool blobs;
  std::vector<Persona> personas;
  std::vector<std::string> persona_names;
  std::vector<std::uint64_t> counts, cum;  // cum[j] = rows of personas < j
  std::vector<double> centres;             // blobs: k x d
  Permutation perm{1, 0};

  std::int32_t segment_of(std::uint64_t row) const {
    std::uint64_t pos = perm(row);
    auto it = std::upper_bound(cum.begin(), cum.end(), pos);
    return static_cast<std::int32_t>((it - cum.begin()) - 1);
  }

  // Row `row` into out[0..d); returns its segment. Not inlined into the OpenMP
  // loop so that every row runs the same code whichever thread computes it.
  [[gnu::noinline]] std::int32_t row_values(std::uint64_t row, float* out) const {
    const std::size_t d = p->features;
    const std::int32_t seg = segment_of(row);
    CounterRng g(p->seed, kStreamRow, row);
    if (blobs) {
      const double* c = centres.data() + static_cast<std::size_t>(seg) * d;
      for (std::size_t j = 0; j < d; ++j) out[j] = static_cast<float>(c[j] + g.normal());
      return seg;
    }
    double f[16];
    customer_row(personas[static_cast<std::size_t>(seg)], g, f);
    const std::size_t base = std::min<std::size_t>(d, 16);
    for (std::size_t j = 0; j < base; ++j) out[j] = static_cast<float>(f[j]);
    if (d > 16) {
      CounterRng noise(p->seed, kStreamNoise, row);
      for (std::size_t j = 16; j < d; ++j) out[j] = static_cast<float>(noise.normal());
    }
    return seg;
  }
};

void validate(const GeneratorParams& p) {
  if (p.kind != "customers" && p.kind != "blobs")
    throw Error("generate: unknown kind '" + p.kind + "' (valid: customers, blobs)");
  if (p.rows < 1) throw Error("generate: rows must be at least 1");
  if (p.features < 1) throw Error("generate: features must be at least 1");
  if (p.segments < 1) throw Error("generate: segments must be at least 1");
  if (p.segments > p.rows)
    throw Error("generate: segments (" + std::to_string(p.segments) + ") must not exceed rows (" +
                std::to_string(p.rows) + ")");
  if (p.segments > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw Error("generate: too many segments");
  if (p.chunk_rows < 1) throw Error("generate: chunk_rows must be at least 1");
  if (p.kind == "blobs" && !(p.separation >= 0 && std::isfinite(p.separation)))
    throw Error("generate: separation must be a finite number >= 0");
  if (p.features > (std::size_t(1) << 24)) throw Error("generate: features must be at most 16777216");
}

}  // namespace

const std::vector<std::string>& customer_feature_names() { return kCustomerNames; }

void generate(const GeneratorParams& p, const std::string& path,
              const std::function<void(std::uint64_t rows_done)>& progress) {
  validate(p);
  const std::uint64_t n = p.rows;
  const std::size_t d = p.features, k = p.segments;
  Plan plan;
  plan.p = &p;
  plan.blobs = p.kind == "blobs";
  std::vector<double> w(k, 1.0);
  if (!plan.blobs) {
    plan.personas = make_personas(k, p.seed, plan.persona_names);
    for (std::size_t j = 0; j < k; ++j) w[j] = plan.personas[j].weight;
  } else {
    for (std::size_t j = 0; j < k; ++j) plan.persona_names.push_back(numbered("blob_", j));
    // Centres ~ N(0, I), then scaled so that the closest pair is `separation` apart.
    plan.centres.resize(k * d);
    for (std::size_t j = 0; j < k; ++j) {
      CounterRng g(p.seed, kStreamCentre, j);
      for (std::size_t q = 0; q < d; ++q) plan.centres[j * d + q] = g.normal();
    }
    if (k > 1) {
      double dmin = INFINITY;
      for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = a + 1; b < k; ++b) {
          double s = 0;
          for (std::size_t q = 0; q < d; ++q) {
            double t = plan.centres[a * d + q] - plan.centres[b * d + q];
            s += t * t;
          }
          dmin = std::min(dmin, std::sqrt(s));
        }
      double scale = dmin > 0 ? p.separation / dmin : 0.0;
      for (double& c : plan.centres) c *= scale;
    } else {
      std::fill(plan.centres.begin(), plan.centres.end(), 0.0);
    }
  }
  plan.counts = apportion(n, w);
  plan.cum.assign(k + 1, 0);
  for (std::size_t j = 0; j < k; ++j) plan.cum[j + 1] = plan.cum[j] + plan.counts[j];
  plan.perm = Permutation(n, p.seed);

  std::vector<std::string> names;
  if (plan.blobs) {
    for (std::size_t j = 0; j < d; ++j) names.push_back(numbered("x", j));
  } else {
    for (std::size_t j = 0; j < d; ++j)
      if (j < 16) {
        names.push_back(kCustomerNames[j]);
      } else {
        names.push_back(numbered("noise_", j - 16));
      }
  }

  detail::AtomicFile out(path);
  hid_t f = out.h5();
  const std::string what = path + ": cannot write";
  {
    Handle feats = detail::create_matrix(f, "/features", n, d);
    detail::write_1d(f, "/truth", H5T_STD_I32LE, H5T_NATIVE_INT32, nullptr, n);
    detail::write_1d(f, "/customer_ids", H5T_STD_I64LE, H5T_NATIVE_INT64, nullptr, n);
    Handle truth = detail::checked(H5Dopen2(f, "/truth", H5P_DEFAULT), H5Dclose, what + " /truth");
    Handle ids = detail::checked(H5Dopen2(f, "/customer_ids", H5P_DEFAULT), H5Dclose, what + " /customer_ids");
    const std::size_t cr = static_cast<std::size_t>(std::min<std::uint64_t>(p.chunk_rows, n));
    std::vector<float> x(cr * d);
    std::vector<std::int32_t> seg(cr);
    std::vector<std::int64_t> id(cr);
    // Rows reach the file one whole HDF5 chunk at a time, through `pend`, so the
    // sequence of HDF5 writes (and hence the file's bytes) is the same whatever
    // chunk_rows is. Costs one extra copy of each row and one chunk of memory.
    const std::size_t hc = detail::matrix_chunk_rows(n, d);
    std::vector<float> pend_x(hc * d);
    std::vector<std::int32_t> pend_seg(hc);
    std::vector<std::int64_t> pend_id(hc);
    std::size_t pend = 0;
    std::uint64_t pend_r0 = 0;
    auto flush = [&] {
      detail::write_rows(feats.get(), pend_r0, pend, d, H5T_NATIVE_FLOAT, pend_x.data(), what + " /features");
      detail::write_range_1d(truth.get(), pend_r0, pend, H5T_NATIVE_INT32, pend_seg.data(), what + " /truth");
      detail::write_range_1d(ids.get(), pend_r0, pend, H5T_NATIVE_INT64, pend_id.data(), what + " /customer_ids");
      pend_r0 += pend;
      pend = 0;
    };
    for (std::uint64_t r0 = 0; r0 < n; r0 += cr) {
      const std::size_t nr = static_cast<std::size_t>(std::min<std::uint64_t>(cr, n - r0));
      const auto snr = static_cast<std::int64_t>(nr);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < snr; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        seg[ui] = plan.row_values(r0 + ui, x.data() + ui * d);
        id[ui] = static_cast<std::int64_t>(r0 + ui + 1);
      }
      for (std::size_t i = 0; i < nr;) {
        const std::size_t take = std::min(hc - pend, nr - i);
        std::copy_n(x.data() + i * d, take * d, pend_x.data() + pend * d);
        std::copy_n(seg.data() + i, take, pend_seg.data() + pend);
        std::copy_n(id.data() + i, take, pend_id.data() + pend);
        pend += take;
        i += take;
        if (pend == hc) flush();
      }
      if (progress) progress(r0 + nr);
    }
    if (pend > 0) flush();
  }
  detail::write_string_dataset(f, "/feature_names", names);
  std::vector<std::int64_t> sizes(plan.counts.begin(), plan.counts.end());
  nlohmann::json attrs = {
      {"generator", "personakit generate"},
      {"kind", p.kind},
      {"rows", static_cast<std::int64_t>(n)},
      {"features", static_cast<std::int64_t>(d)},
      {"segments", static_cast<std::int64_t>(k)},
      {"seed", p.seed},
      {"segment_names", plan.persona_names},
      {"segment_sizes", sizes},
      {"personakit_version", PERSONAKIT_VERSION_STRING},
  };
  if (plan.blobs) attrs["separation"] = p.separation;
  detail::write_attrs(f, attrs, path);
  out.commit();
}

}  // namespace personakit::datasets
