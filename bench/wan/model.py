#!/usr/bin/python3
"""Alpha-beta cost model of fedtrain's secure exchange, fitted from `fedtrain bench secagg --json` rows.

  model.py fit FILE.jsonl... [--out model.json]        least-squares fit; prints the parameters
  model.py table FILE.jsonl... --model model.json      measured against predicted (markdown); exit 1 past 15 %
  model.py project --model model.json --params 1e9 --sites 32 --rate 10gbit [--delay-ms D]
                   [--chunk-kib K] [--crypto-rate-gbps X --crypto-threads T] [--overlap F]

The model follows SecureAggregator::average and the pipelined ring of runtime/federation/encrypted_ring.h,
for n leaders, a vector of `bytes`, sealed chunks of `chunk_bytes`, each leader's link rate R (bit/s),
one-way delay d and a token bucket of `burst_bytes` on each link (TBF; 0 on a real link):
  S = 2(n-1) ring steps; each step moves a segment of bytes/n in m = ceil(bytes/n / chunk_bytes) chunks,
  the first of c = min(chunk_bytes, bytes/n) bytes; each leader sends V = S x bytes/n (the bound's volume).
  CPU work per leader and exchange, as wall time: the row's measured CPU seconds (its `cpu_s`, getrusage
  of the leader's threads, else its phases) times max(1, n / cores) when the row's n leaders shared
  `cores` cores (the emulated sites of bench/wan/ share one machine's); else, for a projection,
    C = k_local x bytes (quantise, dequantise) + k_mask x (n-1) x bytes (one keystream per peer)
        + k_wire x V (seal, open, egress-log hashing), over the threads given;
    per step C_step = C / S, per chunk p = C / (S m).
  L = 8 (bytes/n) / (eta R): a step on the wire, eta the effective fraction of the link rate;
  tau = 8 c / (eta R): one chunk; h = alpha_hop + d: a chunk's hop into the next leader's hands.
  A step's pace: the slower of link and CPU, plus the part of the other that does not overlap it:
    pace = max(L, C_step) + (1 - overlap) min(L, C_step)
  Chunk c of step t+1 forwards chunk c of step t, so a step lasts
    period = max(pace, tau + h + p)         (the link kept busy, or the ring's fill paid once a step)
  T = alpha_status + d                      (the sealed status all-to-all: one message round)
    + (S-1) period + pace + h + p           (the ring; its last step drains, one hop, one chunk opened)
    - 8 burst / (eta R)                     (the bucket's bytes leave at once)
Fitted by least squares on the relative error: k_local, k_mask and k_wire from the rows' phases_ms
(seconds per call, divided by max(1, n / cores); used for projections), then eta, alpha_status and alpha_hop from secure_s for each overlap on a grid.
T is piecewise linear in (1/eta, alpha_status, alpha_hop): each fit solves the linear problem for the
branches the last guess took, until the parameters stop changing.
"""
import argparse
import json
import math
import re
import sys

import numpy as np

GOAL = 0.15  # issue 12: the model predicts every measured time within 15 %
LOCAL_PHASES = ("quantize", "dequantize")  # work on the leader's own vector
MASK_PHASES = ("mask",)  # one keystream per peer over the leader's own vector
WIRE_PHASES = ("seal", "open", "log")  # work on what crosses the wire


class UsageError(Exception):
    """Bad command line or input file: exit 2 with the message."""


# ---- input -------------------------------------------------------------------------------------

def parse_rate(text):
    """'10gbit', '100mbit', '957M', '1G', '1e10' -> bits per second."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kmgt]?)(?:bit|bps|b/s)?\s*", text, re.I)
    if not m:
        raise UsageError(f"rate '{text}' is not a rate in bit/s like 10gbit, 100mbit, 957M or 1e10")
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}[m.group(2).lower()]


def parse_count(text, what):
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} '{text}' is not a number (like 1e9)") from None
    if not value > 0 or not math.isfinite(value):
        raise UsageError(f"{what} must be positive, not '{text}'")
    return value


def load_rows(paths, bench=None):
    """Every JSON object of the files (one per line), optionally only those of one "bench"."""
    rows = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError as e:
            raise UsageError(f"cannot read '{path}': {e.strerror}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{path}:{number}: not a JSON object ({e.msg}); expected the lines of "
                                 "'fedtrain bench secagg --json FILE'") from None
            if not isinstance(row, dict):
                raise UsageError(f"{path}:{number}: not a JSON object")
            row["_where"] = f"{path}:{number}"
            if bench is None or row.get("bench") == bench:
                rows.append(row)
    return rows


def number(row, key, default=None, positive=False):
    value = row.get(key, default)
    if value is None:
        raise UsageError(f"{row['_where']}: no \"{key}\" (is it a row of 'fedtrain bench secagg --json'?)")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
            or (positive and value == 0):
        raise UsageError(f"{row['_where']}: \"{key}\" is {value!r}, expected a {'positive' if positive else 'non-negative'} number")
    return float(value)


class Exchange:
    """What the model needs of one secure exchange: the setting, not the outcome."""

    def __init__(self, sites, bytes_, chunk_bytes, rate_bps, delay_s=0.0, burst_bytes=0.0, cpu_s=None):
        if sites < 2 or sites != int(sites):
            raise UsageError(f"sites must be a whole number of at least 2, not {sites}")
        self.sites, self.bytes, self.chunk_bytes = int(sites), float(bytes_), float(chunk_bytes)
        self.rate_bps, self.delay_s, self.burst_bytes = float(rate_bps), float(delay_s), float(burst_bytes)
        self.cpu_s = cpu_s  # the CPU seconds the row measured (its phases), or None: from the fitted rates
        self.steps = 2 * (self.sites - 1)
        self.segment = self.bytes / self.sites  # what one step moves
        self.chunks = max(1, math.ceil(self.segment / self.chunk_bytes))  # m: chunks per step
        self.chunk = min(self.chunk_bytes, self.segment)  # c: bytes of a full chunk
        self.wire_bytes = self.steps * self.segment  # V: what each leader sends

    @classmethod
    def of_row(cls, row):
        delay_ms = row.get("delay_ms")
        if delay_ms is None and row.get("rtt_ms") is not None:
            delay_ms = number(row, "rtt_ms") / 2  # measured round trip, symmetric
        row = dict(row, delay_ms=delay_ms or 0.0)
        if number(row, "sites") < 2 or number(row, "sites") != int(row["sites"]):
            raise UsageError(f"{row['_where']}: \"sites\" is {row['sites']!r}, expected a whole number of at least 2")
        return cls(number(row, "sites", positive=True), number(row, "bytes", positive=True),
                   number(row, "chunk_bytes", positive=True), number(row, "link_rate_bps", positive=True),
                   number(row, "delay_ms") / 1e3, number(row, "burst_bytes", 0.0), measured_cpu_s(row))

    def bound_s(self):
        return 8 * self.wire_bytes / self.rate_bps


def phases_s(row, phases):
    got = row.get("phases_ms")
    if not isinstance(got, dict) or any(isinstance(got.get(k), bool) or not isinstance(got.get(k), (int, float))
                                        or got[k] < 0 for k in phases):
        raise UsageError(f"{row['_where']}: \"phases_ms\" lacks {', '.join(phases)} (milliseconds per call)")
    return sum(got[k] for k in phases) / 1e3


def contention(row):
    """How much longer CPU work takes on the wall clock because the row's leaders shared the machine's cores."""
    cores = row.get("cores")
    return max(1.0, number(row, "sites") / cores) if isinstance(cores, (int, float)) and cores > 0 else 1.0


def measured_cpu_s(row):
    cpu = row.get("cpu_s")
    if isinstance(cpu, (int, float)) and not isinstance(cpu, bool) and cpu > 0:
        return cpu * contention(row)
    return phases_s(row, LOCAL_PHASES + MASK_PHASES + WIRE_PHASES)


def secagg_rows(paths):
    rows = load_rows(paths, bench="secagg")
    if not rows:
        raise UsageError(f"no \"bench\":\"secagg\" rows in {' '.join(paths)}; write them with "
                         "'fedtrain bench secagg --link-rate R --json FILE'")
    for row in rows:
        if not row.get("link_rate_bps"):
            raise UsageError(f"{row['_where']}: link_rate_bps is 0: run the bench with --link-rate R")
        number(row, "secure_s", positive=True)
    return rows


# ---- the model ---------------------------------------------------------------------------------

def cpu_seconds(ex, model):
    if ex.cpu_s is not None:
        return ex.cpu_s
    return (model["k_local_s_per_byte"] * ex.bytes + model.get("k_mask_s_per_byte", 0.0) * (ex.sites - 1) * ex.bytes
            + model["k_wire_s_per_byte"] * ex.wire_bytes)


def terms(ex, model):
    """T as const + a . (1/eta, alpha_status, alpha_hop), on the branches that `model` takes."""
    cpu_step = cpu_seconds(ex, model) / ex.steps
    p = cpu_step / ex.chunks  # one chunk's CPU work
    link_per_inv_eta = 8 * ex.segment / ex.rate_bps  # a step's bytes on the wire, times eta
    chunk_per_inv_eta = 8 * ex.chunk / ex.rate_bps  # one chunk's
    tau = chunk_per_inv_eta / model["eta"]
    h = model["alpha_hop_s"] + ex.delay_s
    hidden = 1 - model["overlap"]
    # A step's pace: the slower of link and CPU, plus the part of the other that does not overlap it.
    if link_per_inv_eta / model["eta"] >= cpu_step:
        pace_c, pace_a = hidden * cpu_step, np.array([link_per_inv_eta, 0, 0])
    else:
        pace_c, pace_a = cpu_step, np.array([hidden * link_per_inv_eta, 0, 0])
    pace = pace_c + pace_a[0] / model["eta"]
    if pace >= tau + h + p:  # the link (or CPU) kept busy across steps
        period_c, period_a = pace_c, pace_a
    else:  # each step waits for its first chunk to come round
        period_c, period_a = ex.delay_s + p, np.array([chunk_per_inv_eta, 0, 1])
    const = ex.delay_s + (ex.steps - 1) * period_c + pace_c + ex.delay_s + p
    a = np.array([0, 1, 0]) + (ex.steps - 1) * period_a + pace_a + np.array([0, 0, 1])
    a[0] -= 8 * ex.burst_bytes / ex.rate_bps
    return const, a


def predict(ex, model):
    const, a = terms(ex, model)
    return const + a @ np.array([1 / model["eta"], model["alpha_status_s"], model["alpha_hop_s"]])


def fit_cpu(rows):
    """k_local, k_mask, k_wire (s/B): least squares through 0 of each phase group's seconds per call, less
    the rows' contention for cores (one leader's work on a core of its own). Unweighted, so the largest
    vectors (out of cache, as a projection's are) count most."""
    ks = {}
    for name, phases, volume in (("k_local_s_per_byte", LOCAL_PHASES, lambda ex: ex.bytes),
                                 ("k_mask_s_per_byte", MASK_PHASES, lambda ex: (ex.sites - 1) * ex.bytes),
                                 ("k_wire_s_per_byte", WIRE_PHASES, lambda ex: ex.wire_bytes)):
        x = np.array([volume(Exchange.of_row(row)) for row in rows])
        y = np.array([phases_s(row, phases) / contention(row) for row in rows])
        ks[name] = float(x @ y / (x @ x))
    return ks


def fit(rows, iterations=50):
    """Least squares of the relative error: (1/eta, alpha_status, alpha_hop) for each overlap on a grid."""
    cpu = fit_cpu(rows)
    starts = [dict(cpu, overlap=float(overlap), eta=eta, alpha_status_s=1e-3, alpha_hop_s=1e-3)
              for overlap in np.linspace(0, 1, 51) for eta in (0.6, 0.95)]
    return min((fit_from(rows, start, iterations) for start in starts), key=lambda m: squared_error(rows, m))


def fit_from(rows, model, iterations):
    exchanges = [Exchange.of_row(r) for r in rows]
    measured = np.array([r["secure_s"] for r in rows])
    w = 1 / measured
    free = [True, True, True]  # a latency that the data pushes below 0 is held at 0
    best = None
    for _ in range(iterations):
        lines = [terms(ex, model) for ex in exchanges]
        c = np.array([line[0] for line in lines])
        a = np.array([line[1] for line in lines])
        theta = np.zeros(3)
        cols = [i for i in range(3) if free[i]]
        theta[cols] = np.linalg.lstsq(a[:, cols] * w[:, None], (measured - c) * w, rcond=None)[0]
        for i in (1, 2):
            if theta[i] < 0:
                free[i], theta[i] = False, 0.0
        if theta[0] <= 0:
            raise UsageError("the fit found no positive bandwidth: are the rows' link_rate_bps right?")
        new = dict(model, eta=float(1 / theta[0]), alpha_status_s=float(theta[1]), alpha_hop_s=float(theta[2]))
        if best is None or squared_error(rows, new) < squared_error(rows, best):
            best = new
        if new == model:  # the branches it took gave back the same parameters
            break
        model = new
    return best


def squared_error(rows, model):
    return sum(e * e for e in errors(rows, model))


def errors(rows, model):
    return [predict(Exchange.of_row(r), model) / r["secure_s"] - 1 for r in rows]


def max_error(rows, model):
    return max(abs(e) for e in errors(rows, model))


def describe(model):
    cpu_local = 1 / model["k_local_s_per_byte"] / 1e9 if model["k_local_s_per_byte"] > 0 else math.inf
    cpu_mask = 1 / model["k_mask_s_per_byte"] / 1e9 if model.get("k_mask_s_per_byte", 0) > 0 else math.inf
    cpu_wire = 1 / model["k_wire_s_per_byte"] / 1e9 if model["k_wire_s_per_byte"] > 0 else math.inf
    return "\n".join([
        f"  eta            {model['eta']:.3f}        effective fraction of the link rate (bytes over eta x R)",
        f"  overlap        {model['overlap']:.2f}         fraction of the shorter of link and CPU time hidden behind "
        "the longer, per step (1: spare cores; 0: one after the other)",
        f"  alpha_status   {model['alpha_status_s'] * 1e3:.2f} ms      the sealed status all-to-all (one message round, "
        "plus the one-way delay)",
        f"  alpha_hop      {model['alpha_hop_s'] * 1e3:.2f} ms      a chunk's hop to the next leader (plus the one-way "
        "delay): paid once per step while the ring fills, once at its end",
        f"  k_local        {model['k_local_s_per_byte'] * 1e9:.3f} ns/B   ({cpu_local:.2f} GB/s) quantise + "
        "dequantise, per byte of the vector",
        f"  k_mask         {model.get('k_mask_s_per_byte', 0) * 1e9:.3f} ns/B   ({cpu_mask:.2f} GB/s) one peer's mask "
        "keystream, per byte of the vector (n-1 of them)",
        f"  k_wire         {model['k_wire_s_per_byte'] * 1e9:.3f} ns/B   ({cpu_wire:.2f} GB/s) seal + open + egress "
        "log, per byte each leader sends",
    ])


# ---- commands ----------------------------------------------------------------------------------

def read_model(path):
    try:
        with open(path, encoding="utf-8") as f:
            model = json.load(f)
    except OSError as e:
        raise UsageError(f"cannot read the model '{path}': {e.strerror} (make it with 'model.py fit ... --out')") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"'{path}' is not a model.py fit output ({e.msg})") from None
    keys = ("eta", "overlap", "alpha_status_s", "alpha_hop_s", "k_local_s_per_byte", "k_wire_s_per_byte")
    if not isinstance(model, dict) or any(not isinstance(model.get(k), (int, float)) for k in keys) or model["eta"] <= 0:
        raise UsageError(f"'{path}' lacks the model's parameters ({', '.join(keys)}): make it with 'model.py fit'")
    return model


def cmd_fit(args):
    rows = secagg_rows(args.files)
    model = fit(rows)
    model["fitted_on"] = {"files": args.files, "rows": len(rows), "max_abs_error": max_error(rows, model)}
    print(f"cost model of the secure exchange, fitted on {len(rows)} rows:")
    print(describe(model))
    print(f"  max |error| {100 * model['fitted_on']['max_abs_error']:.1f} % over the rows")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(model, f, indent=1)
            f.write("\n")
    return 0


def fmt_rate(bps):
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= scale:
            return f"{bps / scale:g} {unit}"
    return f"{bps:g} bit/s"


def fmt_bytes(b):
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if b >= scale:
            return f"{b / scale:g} {unit}"
    return f"{b:g} B"


def cmd_table(args):
    model = read_model(args.model)
    rows = secagg_rows(args.files)
    print("| sites | link rate | delay (ms) | size | chunk | measured (ms) | predicted (ms) | error |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for row, err in zip(rows, errors(rows, model)):
        ex = Exchange.of_row(row)
        worst = max(worst, abs(err))
        print(f"| {ex.sites} | {fmt_rate(ex.rate_bps)} | {ex.delay_s * 1e3:g} | {fmt_bytes(ex.bytes)} | "
              f"{fmt_bytes(ex.chunk_bytes)} | {row['secure_s'] * 1e3:.1f} | {predict(ex, model) * 1e3:.1f} | "
              f"{100 * err:+.1f} % |")
    print(f"\nmax |error| {100 * worst:.1f} % over {len(rows)} rows (goal: within {100 * GOAL:.0f} %)")
    if worst > GOAL:
        print(f"model.py table: the model misses a measurement by {100 * worst:.1f} %, more than "
              f"{100 * GOAL:.0f} %", file=sys.stderr)
        return 1
    return 0


def cmd_project(args):
    model = read_model(args.model)
    params = parse_count(args.params, "--params")
    rate = parse_rate(args.rate)
    if args.delay_ms < 0:
        raise UsageError("--delay-ms is a one-way delay in milliseconds, 0 or more")
    threads = args.crypto_threads or 1
    if threads < 1:
        raise UsageError("--crypto-threads must be 1 or more")
    if args.crypto_rate_gbps is not None and not args.crypto_rate_gbps > 0:
        raise UsageError("--crypto-rate-gbps must be positive: GB/s of the vector that one thread quantises, masks, "
                         "seals, opens, logs and dequantises")
    assumed = dict(model)
    if args.overlap is not None:
        if not 0 <= args.overlap <= 1:
            raise UsageError("--overlap is a fraction, 0 to 1")
        assumed["overlap"] = args.overlap
    ex = Exchange(args.sites, 4 * params, args.chunk_kib * 1024, rate, args.delay_ms / 1e3)
    fitted_gbps = ex.bytes / cpu_seconds(ex, model) / 1e9  # the measuring machine's rate at this n, one thread
    gbps = args.crypto_rate_gbps if args.crypto_rate_gbps is not None else fitted_gbps
    ex.cpu_s = ex.bytes / (gbps * 1e9 * threads)
    t = predict(ex, assumed)
    link = 8 * ex.wire_bytes / (assumed["eta"] * rate)
    print(f"projected secure exchange: {params:g} float32 parameters ({ex.bytes / 1e9:g} GB), {ex.sites} sites, "
          f"{fmt_rate(rate)} links, one-way delay {args.delay_ms:g} ms (RTT {2 * args.delay_ms:g} ms), "
          f"chunks of {fmt_bytes(ex.chunk_bytes)}")
    print(f"  predicted          {t:.2f} s")
    print(f"  link bound         {ex.bound_s():.2f} s   (2(n-1)/n x {ex.bytes / 1e9:g} GB / {fmt_rate(rate)})")
    print(f"  predicted / bound  {t / ex.bound_s():.2f}x")
    print(f"  where it goes: the link at eta x R {link:.2f} s, the CPU work {ex.cpu_s:.2f} s "
          f"({'the link is the bottleneck' if ex.cpu_s <= link else 'the CPU is the bottleneck'}); the rest "
          f"(the other's unhidden part, fill, latency) {t - max(link, ex.cpu_s):.2f} s")
    print("assumptions:")
    print(f"  - extrapolated from {model.get('fitted_on', {}).get('rows', '?')} measured rows: eta {assumed['eta']:.3f}, "
          f"overlap {assumed['overlap']:.2f}{' (given)' if args.overlap is not None else ''}, alpha_status "
          f"{1e3 * assumed['alpha_status_s']:.2f} ms and alpha_hop {1e3 * assumed['alpha_hop_s']:.2f} ms hold at "
          f"{ex.sites} sites, {ex.bytes / 1e9:g} GB and {fmt_rate(rate)}")
    print(f"  - CPU per leader: {gbps:.3g} GB/s of the vector per thread "
          f"({'given' if args.crypto_rate_gbps is not None else 'fitted on the measuring machine, one thread'}) "
          f"for quantise, mask, seal, open, egress log and dequantise, over {threads} thread(s)")
    print("  - no token-bucket burst; TCP windows large enough for the delay (not modelled: the rows' eta holds)")
    print("  - the status exchange and the ring only; local training and the outer step are not in it")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="model.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit", help="fit the model to bench secagg rows")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", help="write the fitted model (JSON) here")
    p.set_defaults(run=cmd_fit)
    p = sub.add_parser("table", help="measured against predicted, as markdown; exit 1 if off by more than 15 %%")
    p.add_argument("files", nargs="+")
    p.add_argument("--model", required=True)
    p.set_defaults(run=cmd_table)
    p = sub.add_parser("project", help="the exchange time of a setting beyond the measurements")
    p.add_argument("--model", required=True)
    p.add_argument("--params", required=True, help="float32 parameters, like 1e9")
    p.add_argument("--sites", required=True, type=int)
    p.add_argument("--rate", required=True, help="each leader's link rate, like 10gbit")
    p.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay between leaders, ms (RTT = 2x)")
    p.add_argument("--chunk-kib", type=int, default=1024, help="sealed chunk size, KiB (the bench's default)")
    p.add_argument("--crypto-rate-gbps", type=float, help="GB/s of the vector that one thread quantises, masks, seals, "
                   "opens, logs and dequantises (default: the fitted rates)")
    p.add_argument("--crypto-threads", type=int, help="threads per leader for the CPU work (default 1)")
    p.add_argument("--overlap", type=float, help="fraction of the shorter of link and CPU hidden (default: fitted)")
    p.set_defaults(run=cmd_project)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UsageError as e:
        print(f"model.py {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
