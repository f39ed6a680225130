"""Fitting the cost model to measured rows, and how well it predicts rows it was not fitted on."""
import numpy as np
from scipy.optimize import least_squares

from cost_rows import LOCAL_PHASES, MASK_PHASES, WIRE_PHASES, Exchange, UsageError, link_of, phases_s, share
from cost_terms import FITTED, predict

FOLDS = 5  # k-fold by row: row i is in fold i mod FOLDS


def fit_cpu(rows):
    """k_local, k_mask, k_wire (s/B): least squares through 0 of each phase group's seconds per call, less the
    rows' sharing of cores (one leader's work on a core of its own). Unweighted, so the largest vectors (out of
    cache, as a projection's are) count most."""
    ks = {}
    for name, phases, volume in (("k_local_s_per_byte", LOCAL_PHASES, lambda ex: ex.bytes),
                                 ("k_mask_s_per_byte", MASK_PHASES, lambda ex: (ex.sites - 1) * ex.bytes),
                                 ("k_wire_s_per_byte", WIRE_PHASES, lambda ex: ex.wire_bytes)):
        x = np.array([volume(Exchange.of_row(row)) for row in rows])
        y = np.array([phases_s(row, phases) / share(row) for row in rows])
        ks[name] = float(x @ y / (x @ x))
    return ks


def free_parameters(exchanges):
    """The parameters the rows can tell: k_delay only with rows over a delay, serial only with rows without
    crypto threads; the others are held at 0."""
    held = set()
    if not any(ex.delay_s > 0 for ex in exchanges):
        held.add("k_delay_s_per_byte")
    if not any(ex.workers == 0 for ex in exchanges):
        held.add("serial")
    return [key not in held for key, _, _ in FITTED]


def fit(rows):
    """Least squares of the relative error of secure_s over the FITTED parameters, from a few starts."""
    if not rows:
        raise UsageError("no rows to fit")
    model = fit_cpu(rows)
    exchanges = [Exchange.of_row(r) for r in rows]
    measured = np.array([r["secure_s"] for r in rows])
    free = free_parameters(exchanges)
    keys = [k for (k, _, _), f in zip(FITTED, free) if f]
    lower = [lo for (_, lo, _), f in zip(FITTED, free) if f]
    upper = [hi for (_, _, hi), f in zip(FITTED, free) if f]
    scale = {"eta": 0.1, "overlap": 0.1, "alpha_status_s": 1e-3, "alpha_hop_s": 1e-3, "k_net_s_per_byte": 1e-10,
             "k_delay_s_per_byte": 1e-10, "serial": 0.1}
    fixed = {k: 0.0 for (k, _, _), f in zip(FITTED, free) if not f}

    def as_model(x):
        return dict(model, **fixed, **dict(zip(keys, map(float, x))))

    def residuals(x):
        m = as_model(x)
        return np.array([predict(ex, m) for ex in exchanges]) / measured - 1

    best = None
    for overlap in (0.3, 0.6, 0.9):
        start = {"eta": 0.95, "overlap": overlap, "alpha_status_s": 2e-3, "alpha_hop_s": 1e-3,
                 "k_net_s_per_byte": 3e-10, "k_delay_s_per_byte": 5e-10, "serial": 0.5}
        got = least_squares(residuals, [start[k] for k in keys], bounds=(lower, upper),
                            x_scale=[scale[k] for k in keys])
        if best is None or got.cost < best.cost:
            best = got
    return as_model(best.x)


def errors(rows, model):
    return [predict(Exchange.of_row(r), model) / r["secure_s"] - 1 for r in rows]


def max_error(rows, model):
    return max(abs(e) for e in errors(rows, model))


def cross_validate(rows):
    """The worst relative error on rows left out of the fit: [(how, worst, where)], for leave one link out (each
    set rate and delay in turn, where the rows have two or more) and FOLDS-fold by row."""
    out = []
    links = sorted(set(map(link_of, rows)))
    if len(links) > 1:
        worst = max((max_error([r for r in rows if link_of(r) == link], fit([r for r in rows if link_of(r) != link])),
                     link) for link in links)
        out.append(("leave one link out", worst[0], worst[1]))
    if len(rows) >= 2 * FOLDS:
        worst = max((max_error(rows[k::FOLDS], fit([r for i, r in enumerate(rows) if i % FOLDS != k])), k)
                    for k in range(FOLDS))
        out.append((f"{FOLDS}-fold by row", worst[0], worst[1]))
    return out
