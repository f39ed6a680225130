// The Prometheus exporter: what a scrape shows after some rounds, and a clear error for a busy port.
#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "runtime/metrics/prometheus_exporter.h"

namespace fedtrain {
namespace {

RoundMetrics round_metrics(int64_t round, uint64_t site_egress_bytes, double accuracy) {
  RoundMetrics m;
  m.round = round;
  m.sites = 3;
  m.participating = 2;
  m.train_loss = 0.5;
  m.test_loss = 0.25;
  m.test_accuracy = accuracy;
  m.site_egress_bytes = site_egress_bytes;
  m.egress_bytes = 3 * site_egress_bytes;
  m.seconds = 0.3;
  m.phases.local_steps = 0.2;
  m.phases.site_allreduce = 0.05;
  m.phases.aggregation = 0.07;
  m.phases.evaluation = 0.02;
  m.phases.checkpoint = 0.0;
  return m;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(PrometheusExporter, SeriesHoldTheRoundsLabelledByJobAndSite) {
  PrometheusExporter e("127.0.0.1", 0, "job7", "de", 3, /*evaluating=*/false);
  EXPECT_GT(e.port(), 0);
  EXPECT_EQ(e.url(), "http://127.0.0.1:" + std::to_string(e.port()) + "/metrics");
  e.on_round_end(round_metrics(11, 1000, 0.5));
  e.on_round_end(round_metrics(12, 2500, 0.75));
  const std::string t = e.text();
  const std::string l = "{job_id=\"job7\",site=\"de\"}";
  EXPECT_TRUE(has_line(t, "fedtrain_rounds_completed_total" + l + " 2")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_last_round" + l + " 12")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_site_egress_bytes_total" + l + " 3500")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_sites" + l + " 3")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_participating_sites" + l + " 2")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_test_accuracy" + l + " 0.75")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_test_loss" + l + " 0.25")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_train_loss" + l + " 0.5")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_round_seconds_count" + l + " 2")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_round_phase_seconds_count{job_id=\"job7\",site=\"de\",phase=\"aggregation\"} 2"))
      << t;
  EXPECT_TRUE(has_line(t, "fedtrain_round_phase_seconds_bucket{job_id=\"job7\",site=\"de\",phase=\"local_steps\","
                          "le=\"0.1\"} 0"))
      << t;
  EXPECT_TRUE(has_line(t, "fedtrain_round_phase_seconds_bucket{job_id=\"job7\",site=\"de\",phase=\"local_steps\","
                          "le=\"0.25\"} 2"))
      << t;
  // Only the evaluating site reports the evaluation phase.
  EXPECT_EQ(t.find("phase=\"evaluation\""), std::string::npos) << t;
  PrometheusExporter evaluating("127.0.0.1", 0, "job7", "es", 3, /*evaluating=*/true);
  evaluating.on_round_end(round_metrics(1, 10, 0.1));
  EXPECT_NE(evaluating.text().find("phase=\"evaluation\""), std::string::npos);
}

TEST(PrometheusExporter, PeerSeriesCountWhatTheTransportCounted) {
  PrometheusExporter e("127.0.0.1", 0, "job7", "de", 3, /*evaluating=*/false);
  std::vector<PeerStats> peers(2);
  peers[0].site = "es";
  peers[1].site = "fr";
  e.set_peer_source([&] { return peers; });
  peers[0] = {"es", "10.0.0.1:1", true, 1000, 2000, 3, 4, 0, 0.002};
  peers[1] = {"fr", "10.0.0.3:1", true, 10, 20, 1, 1, 0, -1.0};
  e.on_round_end(round_metrics(1, 1000, 0.5));
  peers[0] = {"es", "10.0.0.1:1", true, 1500, 2600, 5, 6, 1, 0.004};
  peers[1].connected = false;
  e.on_round_end(round_metrics(2, 1000, 0.5));
  const std::string t = e.text();
  auto l = [](const char* peer) { return std::string("{job_id=\"job7\",site=\"de\",peer=\"") + peer + "\"}"; };
  EXPECT_TRUE(has_line(t, "fedtrain_peer_sent_bytes_total" + l("es") + " 1500")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_received_bytes_total" + l("es") + " 2600")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_messages_sent_total" + l("es") + " 5")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_messages_received_total" + l("es") + " 6")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_reconnects_total" + l("es") + " 1")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_rtt_seconds" + l("es") + " 0.004")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_connected" + l("es") + " 1")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_connected" + l("fr") + " 0")) << t;
  EXPECT_TRUE(has_line(t, "fedtrain_peer_sent_bytes_total" + l("fr") + " 10")) << t;
  // No round trip measured yet: no sample rather than a made-up one.
  EXPECT_EQ(t.find("fedtrain_peer_rtt_seconds" + l("fr")), std::string::npos) << t;
}

TEST(PrometheusExporter, BusyPortIsAnErrorThatNamesTheKey) {
  PrometheusExporter first("127.0.0.1", 0, "j", "es", 2, true);
  try {
    PrometheusExporter second("127.0.0.1", first.port(), "j", "de", 2, false);
    FAIL() << "a second exporter bound the same port";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("site 'de'"), std::string::npos) << what;
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << what;
    EXPECT_NE(what.find("monitoring.port"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace fedtrain
