// Prometheus endpoint of a site leader, over prometheus-cpp (registry + pull exposer).
#include "runtime/metrics/prometheus_exporter.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <thread>

#include "runtime/core/error.h"

namespace fedtrain {

namespace detail {
extern int thread_stack_floor_anchor;  // metrics/thread_stack_floor.cc: civetweb threads beside cuBLAS
}  // namespace detail

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

namespace {

// 1 ms .. 1000 s in 1-2.5-5 steps: rounds of small test jobs and of long GPU runs alike.
prometheus::Histogram::BucketBoundaries seconds_buckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double decade = 0.001; decade < 1000.0; decade *= 10.0) {
    b.push_back(decade);
    b.push_back(2.5 * decade);
    b.push_back(5.0 * decade);
  }
  b.push_back(1000.0);
  return b;
}

}  // namespace

// The registry, the exposer and the series, created once; on_round_end only updates values.
struct PrometheusExporter::Series {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  prometheus::Counter* rounds = nullptr;
  prometheus::Gauge* last_round = nullptr;
  prometheus::Gauge* last_round_time = nullptr;
  prometheus::Histogram* round_seconds = nullptr;
  prometheus::Histogram* local_steps = nullptr;
  prometheus::Histogram* site_allreduce = nullptr;
  prometheus::Histogram* aggregation = nullptr;
  prometheus::Histogram* evaluation = nullptr;
  prometheus::Histogram* checkpoint = nullptr;
  prometheus::Counter* egress_bytes = nullptr;
  prometheus::Gauge* sites = nullptr;
  prometheus::Gauge* participating = nullptr;
  prometheus::Gauge* train_loss = nullptr;
  prometheus::Gauge* test_loss = nullptr;
  prometheus::Gauge* test_accuracy = nullptr;
  prometheus::Labels labels;
  prometheus::Family<prometheus::Gauge>* rtt_family = nullptr;
  std::vector<PeerSeries> peers;  // made at the first round's end, one per peer leader
};

struct PrometheusExporter::PeerSeries {
  prometheus::Gauge* connected;
  prometheus::Counter *sent, *received, *messages_sent, *messages_received, *reconnects;
  prometheus::Gauge* rtt = nullptr;
  PeerStats last;  // what the counters hold
};

PrometheusExporter::PrometheusExporter(const std::string& address, int port, const std::string& job_id,
                                       const std::string& site, int sites, bool evaluating)
    : series_(std::make_unique<Series>()), evaluating_(evaluating) {
  Series& s = *series_;
  prometheus::Registry& r = *s.registry;
  const prometheus::Labels labels = {{"job_id", job_id}, {"site", site}};
  s.labels = labels;
  auto counter = [&](const char* name, const char* help) -> prometheus::Counter& {
    return BuildCounter().Name(name).Help(help).Labels(labels).Register(r).Add({});
  };
  auto gauge = [&](const char* name, const char* help) -> prometheus::Gauge& {
    return BuildGauge().Name(name).Help(help).Labels(labels).Register(r).Add({});
  };
  s.rounds = &counter("fedtrain_rounds_completed_total", "Federation rounds this process completed.");
  s.last_round = &gauge("fedtrain_last_round", "Number of the last completed federation round.");
  s.last_round_time = &gauge("fedtrain_last_round_timestamp_seconds", "Unix time at which the last round ended.");
  s.round_seconds = &BuildHistogram()
                         .Name("fedtrain_round_seconds")
                         .Help("Wall time of a federation round.")
                         .Labels(labels)
                         .Register(r)
                         .Add({}, seconds_buckets());
  auto& phases = BuildHistogram()
                     .Name("fedtrain_round_phase_seconds")
                     .Help("Wall time of the phases of a round on the site leader: local_steps (the H inner steps), "
                           "site_allreduce (their gradient all-reduces, part of local_steps), aggregation (exchange "
                           "among leaders and outer step), evaluation, checkpoint.")
                     .Labels(labels)
                     .Register(r);
  s.local_steps = &phases.Add({{"phase", "local_steps"}}, seconds_buckets());
  s.site_allreduce = &phases.Add({{"phase", "site_allreduce"}}, seconds_buckets());
  s.aggregation = &phases.Add({{"phase", "aggregation"}}, seconds_buckets());
  if (evaluating_) s.evaluation = &phases.Add({{"phase", "evaluation"}}, seconds_buckets());
  s.checkpoint = &phases.Add({{"phase", "checkpoint"}}, seconds_buckets());
  s.egress_bytes = &counter("fedtrain_site_egress_bytes_total",
                            "Bytes this site's leader sent across site borders while aggregating (model updates, weights, hashes).");
  s.sites = &gauge("fedtrain_sites", "Sites in the federation.");
  s.participating = &gauge("fedtrain_participating_sites", "Sites whose update the last round aggregated.");
  s.train_loss = &gauge("fedtrain_train_loss", "Mean training loss of the federation in the last round.");
  s.test_loss = &gauge("fedtrain_test_loss", "Test loss of the global model after the last round.");
  s.test_accuracy =
      &gauge("fedtrain_test_accuracy", "Test accuracy of the global model after the last round, 0 to 1.");
  s.sites->Set(sites);

  detail::thread_stack_floor_anchor = 1;  // a real reference: links metrics/thread_stack_floor.cc in
  const std::string listen = address + ":" + std::to_string(port);
  try {
    s.exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{"listening_ports", listen,
                                                                               "num_threads", "2"});
  } catch (const std::exception& e) {
    throw Error("site '" + site + "': cannot serve Prometheus metrics on " + listen + " (" + e.what() +
                "); is the port in use? The leader of the i-th site listens on monitoring.port + i: choose "
                "another monitoring.port, or 0 to turn the endpoint off");
  }
  s.exposer->RegisterCollectable(s.registry);
  const std::vector<int> ports = s.exposer->GetListeningPorts();
  port_ = ports.empty() ? port : ports.front();
  url_ = "http://" + address + ":" + std::to_string(port_) + "/metrics";
}

PrometheusExporter::~PrometheusExporter() = default;

void PrometheusExporter::on_round_end(const RoundMetrics& m) {
  Series& s = *series_;
  s.rounds->Increment();
  s.last_round->Set(static_cast<double>(m.round));
  s.last_round_time->SetToCurrentTime();
  s.round_seconds->Observe(m.seconds);
  s.local_steps->Observe(m.phases.local_steps);
  s.site_allreduce->Observe(m.phases.site_allreduce);
  s.aggregation->Observe(m.phases.aggregation);
  if (evaluating_) s.evaluation->Observe(m.phases.evaluation);
  s.checkpoint->Observe(m.phases.checkpoint);
  s.egress_bytes->Increment(static_cast<double>(m.site_egress_bytes));
  s.sites->Set(m.sites);
  s.participating->Set(m.participating);
  s.train_loss->Set(m.train_loss);
  s.test_loss->Set(m.test_loss);
  s.test_accuracy->Set(m.test_accuracy);
  if (peers_) update_peers();
}

void PrometheusExporter::update_peers() {
  Series& s = *series_;
  const std::vector<PeerStats> now = peers_();
  prometheus::Registry& r = *s.registry;
  if (s.peers.empty()) {
    auto& connected = BuildGauge().Name("fedtrain_peer_connected").Help("1 while the TCP connection to this peer leader is up.").Labels(s.labels).Register(r);
    auto counter = [&](const char* name, const char* help) -> prometheus::Family<prometheus::Counter>& {
      return BuildCounter().Name(name).Help(help).Labels(s.labels).Register(r);
    };
    auto& sent = counter("fedtrain_peer_sent_bytes_total", "Bytes sent to this peer leader over TCP, frames included.");
    auto& received = counter("fedtrain_peer_received_bytes_total", "Bytes received from this peer leader over TCP.");
    auto& msent = counter("fedtrain_peer_messages_sent_total", "Data frames sent to this peer leader.");
    auto& mreceived = counter("fedtrain_peer_messages_received_total", "Data frames received from this peer leader.");
    auto& reconnects = counter("fedtrain_peer_reconnects_total", "Connections to this peer that replaced an earlier one.");
    s.rtt_family = &BuildGauge().Name("fedtrain_peer_rtt_seconds").Help("Last measured round trip to this peer leader.").Labels(s.labels).Register(r);
    for (const PeerStats& p : now) {
      const prometheus::Labels l = {{"peer", p.site}};
      s.peers.push_back({&connected.Add(l), &sent.Add(l), &received.Add(l), &msent.Add(l), &mreceived.Add(l),
                         &reconnects.Add(l), nullptr, PeerStats{}});
    }
  }
  for (size_t i = 0; i < now.size() && i < s.peers.size(); ++i) {
    PeerSeries& q = s.peers[i];
    const PeerStats& p = now[i];
    auto add = [](prometheus::Counter* c, uint64_t was, uint64_t is) { if (is > was) c->Increment(static_cast<double>(is - was)); };
    q.connected->Set(p.connected ? 1 : 0);
    add(q.sent, q.last.bytes_sent, p.bytes_sent);
    add(q.received, q.last.bytes_received, p.bytes_received);
    add(q.messages_sent, q.last.messages_sent, p.messages_sent);
    add(q.messages_received, q.last.messages_received, p.messages_received);
    add(q.reconnects, q.last.reconnects, p.reconnects);
    if (p.last_rtt_s >= 0) {
      if (q.rtt == nullptr) q.rtt = &s.rtt_family->Add({{"peer", p.site}});
      q.rtt->Set(p.last_rtt_s);
    }
    q.last = p;
  }
}

void PrometheusExporter::linger(double seconds) const {
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

std::string PrometheusExporter::text() const {
  return prometheus::TextSerializer().Serialize(series_->registry->Collect());
}

}  // namespace fedtrain
