// Reads the cases sklearn_check.py wrote and prints every score as "case metric value"
// (or "case metric error" when the library throws). The script does the comparing.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "personakit/error.hpp"
#include "personakit/score.hpp"

namespace pk = personakit;

template <class T>
std::vector<T> read(const std::string& path, std::size_t count) {
  std::vector<T> v(count);
  std::ifstream f(path, std::ios::binary);
  if (!f || !f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(T))))
    throw std::runtime_error("cannot read " + path);
  return v;
}

template <class F>
void emit(const std::string& name, const char* metric, F f) {
  try {
    std::printf("%s %s %.17g\n", name.c_str(), metric, f());
  } catch (const pk::Error&) {
    std::printf("%s %s error\n", name.c_str(), metric);
  }
}

int main(int argc, char** argv) {
  if (argc != 2) { std::fprintf(stderr, "usage: score_sklearn_check DIR\n"); return 2; }
  const std::string dir = argv[1];
  std::ifstream manifest(dir + "/manifest.txt");
  std::string line;
  try {
    while (std::getline(manifest, line)) {
      std::istringstream in(line);
      std::string kind, name;
      std::size_t n = 0, d = 0, k = 0;
      in >> kind >> name >> n;
      const std::string base = dir + "/" + name;
      if (kind == "internal") {
        in >> d >> k;
        const auto x = read<float>(base + "_x.f32", n * d);
        const auto y = read<std::int32_t>(base + "_y.i32", n);
        const auto c = read<float>(base + "_c.f32", k * d);
        emit(name, "silhouette", [&] { return pk::silhouette(x.data(), n, d, y.data()).mean; });
        emit(name, "davies_bouldin", [&] { return pk::davies_bouldin(x.data(), n, d, y.data()); });
        emit(name, "calinski_harabasz", [&] { return pk::calinski_harabasz(x.data(), n, d, y.data()); });
        emit(name, "inertia", [&] { return pk::inertia(x.data(), n, d, y.data(), c.data(), k); });
        emit(name, "silhouette_simplified",
             [&] { return pk::silhouette_simplified(x.data(), n, d, y.data(), c.data(), k); });
      } else if (kind == "external") {
        const auto a = read<std::int32_t>(base + "_a.i32", n);
        const auto b = read<std::int32_t>(base + "_b.i32", n);
        emit(name, "ari", [&] { return pk::adjusted_rand(a.data(), b.data(), n); });
        emit(name, "nmi", [&] { return pk::normalized_mutual_info(a.data(), b.data(), n); });
        emit(name, "ami", [&] { return pk::adjusted_mutual_info(a.data(), b.data(), n); });
        const auto hc = pk::homogeneity_completeness(a.data(), b.data(), n);
        std::printf("%s homogeneity %.17g\n%s completeness %.17g\n%s v_measure %.17g\n", name.c_str(), hc.homogeneity,
                    name.c_str(), hc.completeness, name.c_str(), hc.v_measure);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "score_sklearn_check: %s\n", e.what());
    return 1;
  }
  return 0;
}
