// Units of `personakit bench`: statistics, the compare verdict, the suite checks.
#include <gtest/gtest.h>

#include "bench_cmd.hpp"

using namespace personakit::bench;

TEST(BenchStats, MedianMinMax) {
  Stats s = stats_of({3.0, 1.0, 2.0});
  EXPECT_EQ(s.median, 2.0);
  EXPECT_EQ(s.min, 1.0);
  EXPECT_EQ(s.max, 3.0);
  s = stats_of({4.0, 1.0, 2.0, 3.0});  // even count: mean of the middle two
  EXPECT_EQ(s.median, 2.5);
  s = stats_of({5.0});
  EXPECT_EQ(s.median, 5.0);
  EXPECT_EQ(s.min, 5.0);
  EXPECT_EQ(s.max, 5.0);
}

TEST(BenchCompare, WithinSpreadIsNoChange) {
  // A: 1.00 [0.95, 1.05], B: 1.08 [1.02, 1.12]: difference 0.08 < spreads 0.10 + 0.10.
  Verdict v = compare_times(1.0, 0.95, 1.05, 1.08, 1.02, 1.12, 0.02);
  EXPECT_EQ(v.verdict, "no change");
  EXPECT_NEAR(v.ratio, 1.08, 1e-12);
  EXPECT_NEAR(v.threshold, 0.2, 1e-12);
}

TEST(BenchCompare, BeyondSpreadIsFasterOrSlower) {
  EXPECT_EQ(compare_times(1.0, 0.99, 1.01, 0.5, 0.49, 0.51, 0.02).verdict, "faster");
  EXPECT_EQ(compare_times(1.0, 0.99, 1.01, 1.5, 1.49, 1.51, 0.02).verdict, "slower");
}

TEST(BenchCompare, FloorAppliesWithoutSpread) {
  // One repetition each (no spread): 1 % is below the 2 % floor, 3 % is not.
  EXPECT_EQ(compare_times(1.0, 1.0, 1.0, 1.01, 1.01, 1.01, 0.02).verdict, "no change");
  EXPECT_EQ(compare_times(1.0, 1.0, 1.0, 1.03, 1.03, 1.03, 0.02).verdict, "slower");
}

TEST(BenchChecks, SpeedupAndInertia) {
  ojson cases = ojson::array();
  auto mk = [](const char* algo, const char* runner, double med, double inertia_rd) {
    ojson c;
    c["group"] = "g";
    c["algorithm"] = algo;
    c["runner"] = runner;
    c["status"] = "ok";
    c["seconds"] = {{"median", med}, {"min", med}, {"max", med}};
    c["seconds_per_iteration"] = {{"median", med / 10}, {"min", med / 10}, {"max", med / 10}};
    c["inertia_rel_diff"] = inertia_rd;
    return c;
  };
  cases.push_back(mk("lloyd", "personakit", 2.0, 0.0));
  cases.push_back(mk("hamerly", "personakit", 1.0, 0.0));
  cases.push_back(mk("sklearn-lloyd", "peer", 8.0, 2e-5));
  ojson checks = ojson::parse(R"({
    "speedup": [{"algorithm": "best", "over": "sklearn-lloyd", "at_least": 5},
                {"algorithm": "lloyd", "over": "sklearn-lloyd", "at_least": 5},
                {"algorithm": "lloyd", "over": "faiss", "at_least": 2}],
    "inertia": {"tol": 1e-5}})");
  ojson r = evaluate_checks(checks, cases);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0]["algorithm"], "hamerly");  // best = fastest personakit case
  EXPECT_EQ(r[0]["status"], "pass");        // 8 / 1 = 8x
  EXPECT_EQ(r[1]["status"], "FAIL");        // 8 / 2 = 4x
  EXPECT_EQ(r[2]["status"], "n/a");         // faiss not run
  EXPECT_EQ(r[3]["algorithm"], "hamerly");
  EXPECT_EQ(r[3]["status"], "pass");
  EXPECT_EQ(r[4]["algorithm"], "sklearn-lloyd");
  EXPECT_EQ(r[4]["status"], "FAIL");        // 2e-5 > 1e-5
}
