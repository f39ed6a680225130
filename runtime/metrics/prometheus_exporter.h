// Prometheus endpoint of a site leader: /metrics in the text format, served by prometheus-cpp's pull exposer.
//
// Every series carries the labels job_id (run.job_id) and site (the site name). The label is
// job_id, not job, because Prometheus sets `job` itself to the scrape job's name.
//
//   fedtrain_rounds_completed_total        counter    rounds this process completed
//   fedtrain_last_round                    gauge      number of the last completed round (counts on after a resume)
//   fedtrain_last_round_timestamp_seconds  gauge      Unix time at which the last round ended
//   fedtrain_round_seconds                 histogram  wall time of a round
//   fedtrain_round_phase_seconds{phase=}   histogram  local_steps, site_allreduce (part of local_steps),
//                                                     aggregation, evaluation (evaluating site only), checkpoint
//   fedtrain_site_egress_bytes_total       counter    bytes this site's leader sent across site borders
//   fedtrain_sites                         gauge      sites in the federation
//   fedtrain_participating_sites           gauge      sites whose update the last round aggregated
//   fedtrain_train_loss                    gauge      federation's mean training loss in the last round
//   fedtrain_test_loss, fedtrain_test_accuracy  gauge test loss and accuracy (0..1) of the global model
//
// With one job per site (the leaders meet over TCP), also per peer leader, label peer (its site):
//   fedtrain_peer_connected                gauge      1 while its connection is up
//   fedtrain_peer_sent_bytes_total         counter    bytes sent to it on the TCP connection (frames included)
//   fedtrain_peer_received_bytes_total     counter    bytes received from it
//   fedtrain_peer_messages_sent_total, fedtrain_peer_messages_received_total  counter  data frames
//   fedtrain_peer_reconnects_total         counter    connections that replaced an earlier one
//   fedtrain_peer_rtt_seconds              gauge      its last measured round trip (absent until one is)
//
// prometheus-cpp's metrics are atomic: the round loop updates them while the
// exposer's threads serve scrapes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/metrics/round_metrics.h"
#include "runtime/net/tcp_transport.h"

namespace fedtrain {

class PrometheusExporter final : public RoundObserver {
 public:
  // Serves http://address:port/metrics from now on (port 0: a free port, see port()). `evaluating`: this site
  // evaluates the global model (it alone reports the evaluation phase).
  // Throws Error when the port cannot be bound.
  PrometheusExporter(const std::string& address, int port, const std::string& job_id, const std::string& site,
                     int sites, bool evaluating);
  ~PrometheusExporter() override;
  PrometheusExporter(const PrometheusExporter&) = delete;
  PrometheusExporter& operator=(const PrometheusExporter&) = delete;

  void on_round_end(const RoundMetrics& m) override;
  // Where the per-peer series come from (the leaders' TCP transport), read at every round's end.
  void set_peer_source(std::function<std::vector<PeerStats>()> source) { peers_ = std::move(source); }

  // Keeps serving for `seconds` (blocks the caller): lets a scraper collect the
  // final values of a job that would otherwise end between two scrapes.
  void linger(double seconds) const;

  // The port it listens on, and "http://127.0.0.1:9400/metrics".
  int port() const { return port_; }
  const std::string& url() const { return url_; }
  // The exposition text of fedtrain's own series (what /metrics serves, without the exposer's own).
  std::string text() const;

 private:
  struct Series;
  struct PeerSeries;
  void update_peers();
  std::unique_ptr<Series> series_;
  std::function<std::vector<PeerStats>()> peers_;
  std::string url_;
  int port_ = 0;
  bool evaluating_;
};

}  // namespace fedtrain
