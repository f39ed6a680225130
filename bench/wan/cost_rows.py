"""The input of the cost model: `fedtrain bench secagg --json` rows (as bench/wan/matrix.sh keeps them) and the
setting of one exchange that the model needs of a row or of a projection."""
import json
import math
import re

LOCAL_PHASES = ("quantize", "dequantize")  # work on the leader's own vector
MASK_PHASES = ("mask",)  # one keystream per peer over the leader's own vector
WIRE_PHASES = ("seal", "open", "log")  # work on what crosses the wire


class UsageError(Exception):
    """Bad command line or input file: exit 2 with the message."""


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
        for number_, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{path}:{number_}: not a JSON object ({e.msg}); expected the lines of "
                                 "'fedtrain bench secagg --json FILE'") from None
            if not isinstance(row, dict):
                raise UsageError(f"{path}:{number_}: not a JSON object")
            row["_where"] = f"{path}:{number_}"
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


def phases_s(row, phases):
    got = row.get("phases_ms")
    if not isinstance(got, dict) or any(isinstance(got.get(k), bool) or not isinstance(got.get(k), (int, float))
                                        or got[k] < 0 for k in phases):
        raise UsageError(f"{row['_where']}: \"phases_ms\" lacks {', '.join(phases)} (milliseconds per call)")
    return sum(got[k] for k in phases) / 1e3


def share(row):
    """max(1, n / cores): how much longer CPU work takes on the wall clock because the row's n leaders shared the
    machine's `cores` (1 where the row does not say)."""
    cores = row.get("cores")
    return max(1.0, number(row, "sites") / cores) if isinstance(cores, (int, float)) and cores > 0 else 1.0


def measured_cpu_s(row):
    """One leader's CPU seconds per exchange: `cpu_s` (getrusage user+sys), else the sum of its CPU phases."""
    cpu = row.get("cpu_s")
    if isinstance(cpu, (int, float)) and not isinstance(cpu, bool) and cpu > 0:
        return float(cpu)
    return phases_s(row, LOCAL_PHASES + MASK_PHASES + WIRE_PHASES)


class Exchange:
    """What the model needs of one secure exchange: the setting, not the outcome.
    emulated: the leaders are emulated sites of one machine (bench/wan/), whose kernel carries every link;
    share: max(1, n / cores) there; workers: crypto threads per leader (0: the ring's own thread does the work)."""

    def __init__(self, sites, bytes_, chunk_bytes, rate_bps, delay_s=0.0, burst_bytes=0.0, cpu_s=None,
                 emulated=False, share_=1.0, workers=1):
        if sites < 2 or sites != int(sites):
            raise UsageError(f"sites must be a whole number of at least 2, not {sites}")
        self.sites, self.bytes, self.chunk_bytes = int(sites), float(bytes_), float(chunk_bytes)
        self.rate_bps, self.delay_s, self.burst_bytes = float(rate_bps), float(delay_s), float(burst_bytes)
        self.cpu_s = cpu_s  # the CPU seconds the row measured, or None: from the fitted rates
        self.emulated, self.share, self.workers = emulated, float(share_), int(workers)
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
        workers = number(row, "crypto_threads", 0.0)  # rows from before crypto threads: the ring's thread alone
        return cls(number(row, "sites", positive=True), number(row, "bytes", positive=True),
                   number(row, "chunk_bytes", positive=True), number(row, "link_rate_bps", positive=True),
                   number(row, "delay_ms") / 1e3, number(row, "burst_bytes", 0.0), measured_cpu_s(row),
                   emulated=True, share_=share(row), workers=workers)

    def bound_s(self):
        return 8 * self.wire_bytes / self.rate_bps


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


def link_of(row):
    """The link a row ran over, as set: (rate in bit/s, one-way delay in ms): the groups of a leave-one-link-out."""
    return (row.get("set_rate_bps") or row["link_rate_bps"], row.get("delay_ms") or 0.0)
