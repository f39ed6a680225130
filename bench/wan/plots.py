#!/usr/bin/python3
"""PNG plots of the WAN benchmarks (matplotlib, Agg) from `fedtrain bench secagg --json` rows.

  plots.py FILE.jsonl... --out-dir docs/img [--model model.json]

  wan-bound-ratio.png    secure/bound and plain/bound against link rate, one line per site count
                         (each point: the largest size measured for that sites and rate)
  wan-sites.png          exchange time against sites at each link rate (largest size), and the round time
                         of training runs when rows with "bench":"train" are given
  wan-model.png          measured against the cost model (log-log), with y = x and the +-15 % band
                         (the model of --model, else one fitted on the files)
Rows with a chunk size other than the most common one are left out of the first two.
"""
import argparse
import os
import sys
from collections import Counter, defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as cost  # noqa: E402


def largest_per(rows, key):
    """For each key(row), the row with the most bytes."""
    best = {}
    for row in rows:
        k = key(row)
        if k not in best or row["bytes"] > best[k]["bytes"]:
            best[k] = row
    return best


def usual_chunk(rows):
    common = Counter(r["chunk_bytes"] for r in rows).most_common(1)[0][0]
    return [r for r in rows if r["chunk_bytes"] == common]


def plot_bound_ratio(rows, path):
    best = largest_per(usual_chunk(rows), lambda r: (int(r["sites"]), r["link_rate_bps"]))
    by_sites = defaultdict(list)
    for (sites, rate), row in sorted(best.items()):
        by_sites[sites].append((rate, row))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for sites, points in sorted(by_sites.items()):
        rates = [rate / 1e9 for rate, _ in points]
        line, = ax.plot(rates, [r["secure_s"] / r["bound_s"] for _, r in points], "o-", label=f"{sites} sites, secure")
        ax.plot(rates, [r["plain_s"] / r["bound_s"] for _, r in points], "s--", color=line.get_color(),
                label=f"{sites} sites, plain {points[0][1].get('plain', '')}")
        for rate, (_, r) in zip(rates, points):
            ax.annotate(cost.fmt_bytes(r["bytes"]), (rate, r["secure_s"] / r["bound_s"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("link rate (Gbit/s)")
    ax.set_ylabel("exchange time / link bound 2(n-1)/n x size / rate")
    ax.set_title("Exchange time over the link bound (largest size measured)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sites(rows, train, path):
    best = largest_per(usual_chunk(rows), lambda r: (r["link_rate_bps"], int(r["sites"])))
    by_rate = defaultdict(list)
    for (rate, sites), row in sorted(best.items()):
        by_rate[rate].append((sites, row))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for rate, points in sorted(by_rate.items()):
        sites = [s for s, _ in points]
        line, = ax.plot(sites, [r["secure_s"] for _, r in points], "o-",
                        label=f"{cost.fmt_rate(rate)}: secure exchange")
        ax.plot(sites, [r["plain_s"] for _, r in points], "s--", color=line.get_color(),
                label=f"{cost.fmt_rate(rate)}: plain")
        for s, r in points:
            ax.annotate(cost.fmt_bytes(r["bytes"]), (s, r["secure_s"]), fontsize=7, textcoords="offset points",
                        xytext=(4, 4))
    by_train_rate = defaultdict(list)
    for row in train:
        by_train_rate[row.get("set_rate_bps", 0)].append((int(row["sites"]), row["round_s"]))
    for rate, points in sorted(by_train_rate.items()):
        points.sort()
        ax.plot([s for s, _ in points], [t for _, t in points], "^:",
                label=f"{cost.fmt_rate(rate) if rate else 'unshaped'}: training round")
    ax.set_yscale("log")
    ax.set_xlabel("sites")
    ax.set_ylabel("seconds")
    ax.set_title("Exchange time against sites (largest size measured)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_model(rows, model, path):
    measured = [r["secure_s"] for r in rows]
    predicted = [cost.predict(cost.Exchange.of_row(r), model) for r in rows]
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    groups = defaultdict(list)
    for r, m, p in zip(rows, measured, predicted):
        groups[(int(r["sites"]), r["link_rate_bps"])].append((m, p))
    for (sites, rate), points in sorted(groups.items()):
        ax.plot([p for _, p in points], [m for m, _ in points], "o", label=f"{sites} sites, {cost.fmt_rate(rate)}")
    lo, hi = min(measured + predicted) / 1.5, max(measured + predicted) * 1.5
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, label="y = x")
    ax.fill_between([lo, hi], [lo * (1 - cost.GOAL), hi * (1 - cost.GOAL)], [lo * (1 + cost.GOAL), hi * (1 + cost.GOAL)],
                    color="grey", alpha=0.2, label=f"+-{100 * cost.GOAL:.0f} %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("model (s)")
    ax.set_ylabel("measured (s)")
    ax.set_title(f"Measured against model (max |error| {100 * cost.max_error(rows, model):.1f} %)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="plots.py", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--model", help="a model.py fit output (default: fit one on the files)")
    args = parser.parse_args(argv)
    try:
        rows = cost.secagg_rows(args.files)
        for row in rows:
            for key in ("plain_s", "bound_s"):
                cost.number(row, key, positive=True)
        train = cost.load_rows(args.files, bench="train")
        for row in train:
            cost.number(row, "sites", positive=True)
            cost.number(row, "round_s", positive=True)
        model = cost.read_model(args.model) if args.model else cost.fit(rows)
        os.makedirs(args.out_dir, exist_ok=True)
    except cost.UsageError as e:
        print(f"plots.py: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"plots.py: cannot make --out-dir '{args.out_dir}': {e.strerror}", file=sys.stderr)
        return 2
    out = {name: os.path.join(args.out_dir, name) for name in ("wan-bound-ratio.png", "wan-sites.png", "wan-model.png")}
    plot_bound_ratio(rows, out["wan-bound-ratio.png"])
    plot_sites(rows, train, out["wan-sites.png"])
    plot_model(rows, model, out["wan-model.png"])
    for path in out.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
