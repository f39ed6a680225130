"""The equations of the cost model (see model.py's docstring) and its parameters, with their units."""
# The parameters fitted on secure_s, in the order of cost_fit's vector: key, lower and upper bound, how it prints.
FITTED = (
    ("eta", 0.3, 1.5),
    ("overlap", 0.0, 1.0),
    ("alpha_status_s", 0.0, 0.1),
    ("alpha_hop_s", 0.0, 0.05),
    ("k_net_s_per_byte", 0.0, 1e-8),
    ("k_delay_s_per_byte", 0.0, 1e-8),
    ("serial", 0.0, 3.0),
)
CPU_RATES = ("k_local_s_per_byte", "k_mask_s_per_byte", "k_wire_s_per_byte")  # for projections


def cpu_seconds(ex, model):
    """One leader's CPU seconds: the row's own, else from the rates fitted on the phases."""
    if ex.cpu_s is not None:
        return ex.cpu_s
    return (model["k_local_s_per_byte"] * ex.bytes + model["k_mask_s_per_byte"] * (ex.sites - 1) * ex.bytes
            + model["k_wire_s_per_byte"] * ex.wire_bytes)


def cpu_wall_s(ex, model):
    """C: one leader's CPU work as wall time. On emulated sites the kernel's per-byte work for the links (and the
    delay helper's, where there is one) takes the same cores as the n leaders; without crypto threads the ring's
    thread and its neighbour's take turns for a `serial` fraction of the work."""
    cpu = cpu_seconds(ex, model)
    kernel = 0.0
    if ex.emulated:
        kernel = (model["k_net_s_per_byte"] + (model["k_delay_s_per_byte"] if ex.delay_s > 0 else 0.0)) * ex.wire_bytes
    return ex.share * (cpu + kernel) + (model["serial"] * cpu if ex.workers == 0 else 0.0)


def predict(ex, model):
    """T, the exchange's wall time in seconds."""
    per_byte = 8 / (model["eta"] * ex.rate_bps)  # on the wire
    hop = model["alpha_hop_s"] * ex.share  # a chunk's hand-over to the next leader's thread
    link_step = per_byte * ex.segment
    cpu_step = cpu_wall_s(ex, model) / ex.steps + hop
    pace = max(link_step, cpu_step) + (1 - model["overlap"]) * min(link_step, cpu_step)
    h = hop + ex.delay_s
    period = max(pace, per_byte * ex.chunk + h)
    burst = per_byte * min(ex.burst_bytes, ex.wire_bytes)
    return model["alpha_status_s"] + ex.delay_s + (ex.steps - 1) * period + pace + h - burst


def rate(seconds_per_byte):
    """'(1.83 GB/s)': the rate a cost per byte amounts to."""
    return f"({1 / seconds_per_byte / 1e9:.2f} GB/s)" if seconds_per_byte > 0 else "(0: held or fitted at 0)"


def describe(model):
    m = model
    return "\n".join([
        f"  eta            {m['eta']:.3f}        effective fraction of the link rate (bytes over eta x R)",
        f"  overlap        {m['overlap']:.2f}         fraction of the shorter of link and CPU time hidden behind "
        "the longer, per step",
        f"  alpha_status   {m['alpha_status_s'] * 1e3:.2f} ms      the sealed status all-to-all (one message round, "
        "plus the one-way delay)",
        f"  alpha_hop      {m['alpha_hop_s'] * 1e3:.2f} ms      a chunk's hand-over to the next leader's thread, per "
        "step, times max(1, n/cores) (plus the one-way delay while the ring fills)",
        f"  k_net          {m['k_net_s_per_byte'] * 1e9:.3f} ns/B   {rate(m['k_net_s_per_byte'])} the "
        "kernel's work per byte sent (TCP, veth, TBF) on emulated sites' shared cores",
        f"  k_delay        {m['k_delay_s_per_byte'] * 1e9:.3f} ns/B   {rate(m['k_delay_s_per_byte'])} "
        "the delay helper's (NFQUEUE) work per byte, where the sites emulate a delay",
        f"  serial         {m['serial']:.2f}         extra wall time per second of CPU work with no crypto threads "
        "(the ring's thread and its neighbour's take turns)",
        f"  k_local        {m['k_local_s_per_byte'] * 1e9:.3f} ns/B   {rate(m['k_local_s_per_byte'])} "
        "quantise + dequantise, per byte of the vector (projections)",
        f"  k_mask         {m['k_mask_s_per_byte'] * 1e9:.3f} ns/B   {rate(m['k_mask_s_per_byte'])} "
        "one peer's mask keystream, per byte of the vector (n-1 of them; projections)",
        f"  k_wire         {m['k_wire_s_per_byte'] * 1e9:.3f} ns/B   {rate(m['k_wire_s_per_byte'])} "
        "seal + open + egress log, per byte each leader sends (projections)",
    ])
