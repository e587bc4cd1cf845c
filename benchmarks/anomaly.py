"""Anomaly detection (issue 13): skhidden's detector beside pyod's and aeon's.

Real labelled series that install offline, each a normal training series
and a labelled test series:

- aeon 1.6.0's ``load_kdd_tsad_135`` (UCR anomaly archive: the first 1200
  steps are the normal training part; the whole series is scored) and
  ``load_ecg_diff_count_3("semi-supervised")`` (GutenTAG ECG, 3 anomalies);
- series built the TSB-UAD way from tuning-half classification sets
  (``_panel_data.TUNING`` only): the training instances of the set's most
  frequent class, concatenated, are the normal training series; the test
  series concatenates that class's test instances with 3 instances of other
  classes inserted at random places (fixed seed), labelled anomalous.

Every method is fit on the training series and scores the test series
(STOMP and pyod's MatrixProfile are transductive: they read the test series
only), side by side in one run:

- ``HiddenStateAnomalyDetector(random_state=0)`` as shipped (the residual
  convolutional front-end, each window's recurrent state with its
  convolutional features measured against the nearest training state, a
  step scored by the highest of its windows' score and the 31 steps' after
  it, ``score_span=32``, beside the mean over 128 steps ahead capped at
  the highest's training 99th percentile, ``context_span=128``); the same
  without the context (``context_span=None``, the default until
  2026-12-08), unpooled (``score_span=1``, no context) and with the
  recurrent states alone (``states="recurrent"``); the raw steps without a
  front-end (``frontend="none", states="recurrent"``, the default until
  2026-12-06); ``anomaly_score="forecast"`` (forecast errors) on the raw
  steps and through the front-end, and ``anomaly_score="distance"`` on the
  raw steps;
- a last-state-only baseline: a ``HiddenStateTransformer(aggregation="last")``
  (the same GRU, trained the same self-supervised way on windows of the
  training series) reads every sliding window of ``period`` steps and keeps
  only its final state; a window's score is that state's Mahalanobis
  distance to the training windows' final states, and a step's score the
  mean over the windows covering it;
- pyod 3.6.7's ``LSTMAD`` (``epochs=10``, not its default 50, to fit the
  time budget) and ``MatrixProfile``; aeon's ``KMeansAD``, ``STOMP`` and
  ``IsolationForest`` (windowed). Their window is the dataset's period.

Metrics: VUS-PR (aeon's ``range_pr_vus_score`` with ``max_buffer_size=100``
for every dataset, whatever the models' windows; ``skhidden.metrics.vus_pr``
is checked equal on every row) and the UCR score (``skhidden.metrics.
ucr_score``, tolerance 100: whether the top-scored step is within 100 steps
of an anomaly). For skhidden's detectors, the flags of ``predict_steps``
(``threshold_`` from ``contamination=0.01``) are counted too: the share of
normal test steps flagged and the labelled anomalies with a flagged step.
Fit and scoring times are wall-clock seconds with one torch
thread. All series are standardised with their training series' mean and
standard deviation first.

Tuning and confirmation: ``TUNING_SERIES`` decide any default; the others
only confirm.

Run ``python benchmarks/anomaly.py`` (``--quick``: 2 epochs, 2 series).
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import RESULTS, environment, machine_line, markdown_table  # noqa: E402
from _panel_data import TUNING, load_panel_set  # noqa: E402

from skhidden import HiddenStateAnomalyDetector, HiddenStateTransformer  # noqa: E402
from skhidden.metrics import _anomaly_ranges, ucr_score, vus_pr  # noqa: E402

VUS_WINDOW = 100
UCR_SETS = ["GunPoint", "ECG5000", "Coffee", "ItalyPowerDemand", "ArrowHead"]
TUNING_SERIES = ["kdd_tsad_135", "GunPoint", "ECG5000"]
# Added 2026-12-07 after the default was chosen: every other univariate
# equal-length set of the tuning half, built the same way. Seven series were
# too few to tell a detector that travels from one fitted to them; these
# only confirm, like the confirmation series.
MORE_SETS = ["OSULeaf", "Car", "CricketX", "DistalPhalanxOutlineCorrect",
             "FiftyWords", "InsectWingbeatSound", "Lightning2",
             "MixedShapesSmallTrain"]
N_INSERTED = 3
TARGET_STEPS = 3000  # about this many steps per built test series
LSTMAD_EPOCHS = 10
DEFAULT = "skhidden default"
NO_CONTEXT = "skhidden without context (default until 2026-12-08)"
UNPOOLED = "skhidden unpooled (score_span=1, no context)"
LAST_STATE = "last state only (GRU)"
RAW_STEPS = {"frontend": "none", "states": "recurrent"}  # the default until 2026-12-06
SKHIDDEN = {
    # anomaly_score="nearest", frontend="resnet", states="both", score_span=32,
    # context_span=128
    DEFAULT: {},
    NO_CONTEXT: {"context_span": None},  # the highest over score_span alone
    UNPOOLED: {"score_span": 1, "context_span": None},  # a step's own windows
    "skhidden recurrent states only": {"states": "recurrent"},
    "skhidden raw steps (default until 2026-12-06)": RAW_STEPS,
    "skhidden forecast": {"anomaly_score": "forecast", **RAW_STEPS},
    "skhidden forecast + resnet": {"anomaly_score": "forecast", "states": "recurrent"},
    "skhidden distance": {"anomaly_score": "distance", **RAW_STEPS},
}
assert set(UCR_SETS + MORE_SETS) <= set(TUNING)


# ------------------------------------------------------------------ data
def _period(train):
    """First autocorrelation peak after the first zero crossing, in [8, 200]."""
    x = train - train.mean()
    n = min(len(x), 4000)
    acf = np.correlate(x[:n], x[:n], mode="full")[n - 1 :]
    crossing = np.flatnonzero(acf < 0)
    if len(crossing) == 0:
        return 50
    start = crossing[0]
    return int(np.clip(start + np.argmax(acf[start : start + 400]), 8, 200))


def _built_series(name, seed=0):
    """A TSB-UAD-style series from a classification set: train and test."""
    X_train, y_train, X_test, y_test = load_panel_set(name)
    X_train, X_test = X_train[..., 0], X_test[..., 0]  # univariate sets
    classes, counts = np.unique(y_train, return_counts=True)
    normal = classes[np.argmax(counts)]
    length = X_train.shape[1]
    n_instances = max(10, TARGET_STEPS // length)
    rng = np.random.default_rng(seed)
    train = np.concatenate(list(X_train[y_train == normal][:n_instances]))
    normal_test = list(X_test[y_test == normal][:n_instances])
    others = np.flatnonzero(y_test != normal)
    inserted = rng.choice(others, size=N_INSERTED, replace=False)
    slots = np.arange(1, len(normal_test))
    places = np.sort(rng.choice(slots, N_INSERTED, replace=False))
    pieces, labels = [], []
    for i, instance in enumerate(normal_test):
        if i in places:
            anomaly = X_test[inserted[list(places).index(i)]]
            pieces.append(anomaly)
            labels.append(np.ones(length, dtype=np.int64))
        pieces.append(instance)
        labels.append(np.zeros(length, dtype=np.int64))
    return train, np.concatenate(pieces), np.concatenate(labels), length


def load_series(name):
    """``(train, test, labels, period)`` of one benchmark series, standardised."""
    from aeon.datasets import load_ecg_diff_count_3, load_kdd_tsad_135

    if name == "kdd_tsad_135":
        test, labels = load_kdd_tsad_135()
        train, period = test[:1200], None
    elif name == "ecg_diff_count_3":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecated in 1.6.0
            test, labels, train, _ = load_ecg_diff_count_3("semi-supervised")
        period = None
    else:
        train, test, labels, period = _built_series(name)
    mean, std = train.mean(), train.std()
    train, test = (train - mean) / std, (test - mean) / std
    period = period or _period(train)
    return train, test, np.asarray(labels, dtype=np.int64), period


# --------------------------------------------------------------- methods
def _windows(series, length, stride):
    starts = np.arange(0, len(series) - length + 1, stride)
    return np.stack([series[s : s + length] for s in starts])[:, :, None], starts


def _spread(window_scores, starts, length, n_steps):
    """Per step: the mean score of the windows covering it."""
    sums, counts = np.zeros(n_steps), np.zeros(n_steps)
    for score, start in zip(window_scores, starts, strict=True):
        sums[start : start + length] += score
        counts[start : start + length] += 1
    return sums / np.maximum(counts, 1)


class LastStateDetector:
    """Scores each sliding window by its final GRU state only (the baseline)."""

    def __init__(self, length, epochs, seed=0):
        self.length, self.epochs, self.seed = length, epochs, seed

    def fit(self, train):
        windows, _ = _windows(train, self.length, self.length)
        self.model_ = HiddenStateTransformer(
            aggregation="last", frontend="none", scaling="feature",
            max_epochs=self.epochs, random_state=self.seed, device="cpu",
        ).fit(windows.astype(np.float32))
        many, _ = _windows(train, self.length, max(1, self.length // 4))
        states = self.model_.transform(many.astype(np.float32)).astype(np.float64)
        self.mean_ = states.mean(axis=0)
        covariance = np.cov(states.T, bias=True)
        ridge = 1e-3 * np.trace(covariance) / len(covariance) + 1e-6
        self.precision_ = np.linalg.inv(covariance + ridge * np.eye(len(covariance)))
        return self

    def score(self, test):
        windows, starts = _windows(test, self.length, 1)
        states = self.model_.transform(windows.astype(np.float32)).astype(np.float64)
        centred = states - self.mean_
        distances = np.einsum("ni,ij,nj->n", centred, self.precision_, centred)
        return _spread(distances / centred.shape[1], starts, self.length, len(test))


def run_method(method, train, test, period, quick):
    """``(scores, fit_s, score_s, flags)`` of one method on one series.

    ``flags`` are skhidden's ``predict_steps`` (steps above ``threshold_``);
    None for the other methods, which set no threshold.
    """
    flags = None
    epochs = 2 if quick else None
    fit_start = time.perf_counter()
    if method in SKHIDDEN:
        params = dict(SKHIDDEN[method], random_state=0, device="cpu")
        if epochs:
            params["max_epochs"] = epochs
        model = HiddenStateAnomalyDetector(**params).fit([train[:, None]])
        fit_s = time.perf_counter() - fit_start
        scores = model.score_steps([test[:, None]])[0]
        flags = scores > model.threshold_  # predict_steps, without rescoring
    elif method == LAST_STATE:
        model = LastStateDetector(min(period, 128), epochs or 100).fit(train)
        fit_s = time.perf_counter() - fit_start
        scores = model.score(test)
    elif method == "pyod LSTMAD":
        from pyod.models.ts_lstm import LSTMAD

        model = LSTMAD(epochs=epochs or LSTMAD_EPOCHS).fit(train)
        fit_s = time.perf_counter() - fit_start
        scores = model.decision_function(test)
    elif method == "pyod MatrixProfile":
        from pyod.models.ts_matrix_profile import MatrixProfile

        fit_s = 0.0
        scores = MatrixProfile(window_size=period).fit(test).decision_scores_
    elif method == "aeon STOMP":
        from aeon.anomaly_detection.series.distance_based import STOMP

        fit_s = 0.0
        scores = STOMP(window_size=period).fit_predict(test)
    else:
        from aeon.anomaly_detection.series.distance_based import KMeansAD
        from aeon.anomaly_detection.series.outlier_detection import IsolationForest

        classes = {"aeon KMeansAD": KMeansAD, "aeon IsolationForest": IsolationForest}
        cls = classes[method]
        model = cls(window_size=period, random_state=0).fit(train)
        fit_s = time.perf_counter() - fit_start
        scores = model.predict(test)
    score_s = time.perf_counter() - fit_start - fit_s
    return np.asarray(scores, dtype=np.float64), fit_s, score_s, flags


METHODS = [*SKHIDDEN, LAST_STATE, "pyod LSTMAD", "pyod MatrixProfile",
           "aeon KMeansAD", "aeon STOMP", "aeon IsolationForest"]


def evaluate(labels, scores):
    from aeon.benchmarking.metrics.anomaly_detection import range_pr_vus_score

    scores = np.nan_to_num(scores, nan=np.nanmin(scores))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant scores -> 0.0
        aeon_vus = float(range_pr_vus_score(labels, scores, max_buffer_size=VUS_WINDOW))
        ours = vus_pr(labels, scores, window=VUS_WINDOW)
    assert abs(aeon_vus - ours) < 1e-9, (aeon_vus, ours)
    return {"vus_pr": aeon_vus, "ucr": ucr_score(labels, scores)}


def evaluate_flags(labels, flags):
    """Share of normal steps flagged, and labelled anomalies with a flagged step."""
    if flags is None:
        return {}
    starts, stops = _anomaly_ranges(labels)
    caught = sum(bool(flags[a:b].any()) for a, b in zip(starts, stops, strict=True))
    return {"false_alarms": float(flags[labels == 0].mean()),
            "caught": f"{caught}/{len(starts)}"}


def _warm_up():
    """Compile numba code (STOMP, MatrixProfile) before any timing."""
    x = np.sin(np.arange(300) / 5.0)
    for method in ("aeon STOMP", "pyod MatrixProfile"):
        run_method(method, x, x, 20, quick=True)


# ---------------------------------------------------------------- report
NOTES = """## Reading (of the committed run; a rerun regenerates only the tables)

- Since 2026-12-08 the default pools each step's scores at two spans: the
  highest over 32 steps ahead and the mean over 128 (``context_span=128``),
  each divided by its training 99th percentile, the mean capped at 1. Over
  all 15 series it now has the highest mean VUS-PR, 0.552, against STOMP's
  0.548 and pyod's MatrixProfile's 0.500 (without the context: 0.481), and
  11/15 UCR hits, tied with STOMP and pyod's LSTMAD (10/15 without). The
  lead is 0.004 at one seed, inside what another seed moves: call it level
  with STOMP. Chosen on the tuning series (0.682 at seed 0 here, against
  0.576), the context raised the confirmation series to 0.706 (0.622; 4/4
  hits against 3/4) and the 8 series added on 2026-12-07 to 0.426 (0.375;
  5/8 hits for both), where STOMP scores 0.450 and KMeansAD 0.440.
- By series it gains most on ECG5000 (0.869 against 0.528), FiftyWords
  (0.653 against 0.471), ItalyPowerDemand (0.603 against 0.441) and
  CricketX (0.471 against 0.365), and loses on GunPoint (0.316 against
  0.356), InsectWingbeatSound, Lightning2 and Car (0.01 each). ArrowHead
  becomes a UCR hit. It stays far behind on GunPoint (STOMP 0.638,
  MatrixProfile 0.715), InsectWingbeatSound (MatrixProfile 0.665) and
  MixedShapesSmallTrain (STOMP 0.684).
- The cap protects the top-scored step only where a short anomaly's peak
  is above the highest score's training 99th percentile. With the
  recurrent states alone (``states="recurrent"``) on kdd_tsad_135 it is
  not: the training steps' percentile (4.70, set by the first windows of
  the training series) is above the test anomaly's peak (2.24), and the
  mean of ordinary steps (0.56 of its percentile) overtakes the anomaly's
  0.48: VUS-PR 0.029 against 0.826 without the context. That variant's mean
  over the 15 series fell from 0.471 to 0.462; every other variant gained.
- Before the context (the rows "without context"): third over all 15
  series, 0.481 against STOMP's 0.548 and MatrixProfile's 0.500, with
  10/15 UCR hits. Those series' instances are 256-1024 steps long: the
  detector's windows of 8 steps and its 32-step pooling saw a whole
  inserted instance as many ordinary pieces, where STOMP and KMeansAD
  compare windows of one whole instance. The mean over 128 steps is the
  answer to that.
- Since 2026-12-06 the default reads windows of 8 steps through the residual
  convolutional front-end (``frontend="resnet"``) and measures each
  window's recurrent state together with its convolutional features
  (``states="both"``) against the nearest training state. Chosen on the
  tuning series at seeds 0-3 (outside this script): mean VUS-PR 0.563
  against 0.491 for the raw steps (``frontend="none"``, the previous
  default), 0.544 for the front-end with the recurrent states alone and
  0.538 for ``frontend="conv", states="both"``; UCR hits 8/12 for the new
  and the old default. What did not help there, seeds 0-1: with both
  states (0.562), ``hidden_size=32`` 0.554 and ``score_span=64`` 0.570;
  with the recurrent states alone (0.524), ``frontend_window=16`` 0.275
  (kdd_tsad_135's 12-step anomaly vanished), ``hidden_size=128`` 0.441 and
  ``score_span`` 16 / 64 0.482 / 0.505; on the raw steps (0.488), averaging
  2 or 4 seeds' scores (within 0.01 of one seed) and delay embeddings of
  the states (each joined with the states a quarter, half and three
  quarters of a period before it: 0.24-0.43, as they lost kdd_tsad_135's
  short anomaly).
- ``crop=0.9`` (each training segment read as a random 90% window every
  epoch) raised the tuning series to 0.590 at seeds 0-3 (against 0.563;
  each of the three gained), and with it ``lr=0.001`` and ``batch_size=16``
  changed nothing (0.592 at seeds 0-1) and 2 layers lost (0.544). Confirmed
  once with this script it did not hold: 0.600 over the 7 series against
  0.602, confirmation series 0.613 against 0.622, 6 of 19 anomalies
  flagged against 8 (none of kdd_tsad_135's). The default keeps whole
  segments (``crop=1.0``).
- Tried on the tuning series at seeds 0-3 on 2026-12-07 (outside this
  script; the default 0.563, 8/12 UCR hits, and 0.570 at seeds 4-7), none
  taken: ``frontend_scales=(1, 2, 4)`` 0.501 (kdd_tsad_135 0.623),
  ``frontend_window=4`` 0.548, ``max_epochs=200`` 0.555, ``cell="lstm"``
  0.549, ``hidden_size=128`` 0.492, ``segment_length`` 128 / 384 / 1024
  0.556 / 0.566 / 0.568 and 512 0.576 (0.579 at seeds 4-7: +0.011 over 8
  seeds, GunPoint 0.35-0.37 still); ``score_span`` of one period 0.604 but
  4/12 UCR hits (ECG5000 0.973, GunPoint 0.260: the pooled peak lands up
  to a period before the anomaly); the mean distance to the 3 or 10
  nearest training states instead of the nearest 0.510 / 0.385; the
  nearest by the L1 or the largest-feature distance instead of the
  Euclidean 0.574 / 0.544 (GunPoint 0.344 / 0.306); and the
  nearest of the training states and the series' own earlier states (a
  left matrix profile in state space, excluding the last period) 0.561
  (GunPoint 0.373, ECG5000 0.471). GunPoint's inserted instances stay
  closer to the training states than normal test instances' mid-motion
  steps: the gap to STOMP (0.721 on these series) is in what the states
  separate, not in how the distance is taken.
- Tried on 2026-12-07 (later), outside this script, the tuning series at
  seeds 0-3 (the default 0.564, 8/12 UCR hits; kdd_tsad_135 0.836,
  GunPoint 0.330, ECG5000 0.526), none taken: each step beside its first
  difference (``differences=True``, as the classifier reads them) 0.547
  (GunPoint 0.301, ECG5000 0.444: the joins between instances become
  spikes); the mean instead of the highest score over the 32 steps ahead
  0.518, over 64 steps 0.435 (kdd_tsad_135 0.347). Two scales, the highest
  score over the 32 steps ahead and the mean over the next W steps, each
  divided by its own training steps' 99th percentile and the larger kept:
  W = 64, 96, 128, 192, 256 gave 0.613, 0.649, 0.658, 0.604, 0.552, and W
  = each series' period 0.638. The best on the tuning series (W = 128:
  ECG5000 0.823, kdd_tsad_135 0.845, GunPoint 0.307) was run once on the
  confirmation series, seeds 0-3: 0.629 against the default's 0.630, UCR
  hits 8/16 against 12/16 (ecg_diff_count_3 0.854 against 0.954): its gain
  was ECG5000's, whose period (140) it matches. Dividing each distance by
  the local density of the training states (the nearest bank state's own
  distance to its nearest bank state a quarter segment or more away, as
  the local outlier factor does): tuning 0.602 (ECG5000 0.669, GunPoint
  0.263), confirmation series once 0.549 against 0.630.
- The two scales (W = 128) run once more, on the 8 series added on
  2026-12-07, seeds 0-3 (outside this script): 0.429 against the
  default's 0.384, with 19/32 UCR hits for both (CricketX 0.463 against
  0.364, FiftyWords 0.618 against 0.458, MixedShapesSmallTrain 0.447
  against 0.384; Car and DistalPhalanxOutlineCorrect a little lower). W =
  the period: 0.377, 15/32. Over the 12 series outside the tuning ones,
  W = 128 scores 0.496 against 0.466 but hits 27/48 against 31/48: the
  mean over 128 steps lifts long anomalies and moves the top-scored step
  away from short ones. Not taken then, since the issue asks for both
  scores. Capping the mean at 1 (2026-12-08) keeps the top step where the
  short scale puts it: the default since, see the first bullets.
  Adding the two scales instead of keeping the larger (W = 128 / 96),
  tuning series, seeds 0-3: 0.559 / 0.528 against 0.564 (kdd_tsad_135
  0.644 / 0.575 against 0.836: the long mean drowns its short anomaly).
- Where it loses: on the class-insertion series the normal test steps'
  highest scores lie at the joins between concatenated instances (the
  first steps of an instance: ECG5000's top 40 normal steps all within 16
  steps of one) and, on GunPoint, in the middle of the motion too (steps
  42-57 of an instance). On GunPoint they reach about 15, above every
  inserted instance's (at most 6.7). STOMP compares whole windows of one
  period and takes such a join in its stride.
- ``score_span=32``: a step's score is the highest of the windows' scores
  from its own to 31 steps later, the states that have read it. Unpooled
  (``score_span=1``) the default scored 0.504 here (tuning 0.362,
  confirmation 0.612); on kdd_tsad_135's 12-step anomaly 0.359 against
  0.845.
- The flags: ``threshold_`` is the ``1 - contamination`` quantile of the
  training steps' held-out pooled scores, so the 1% of training steps
  above it are one or two events (pooling spreads each over the 31 steps
  before it), and on a single short training series the first windows,
  read before the front-end and the recurrence have warmed up, are among
  them. On the first 7 series the default catches 8 of the 19 labelled
  anomalies and flags 0.0-2.6% of the normal test steps (the previous
  default: 11 of 19, 0.0-4.3%); on all 15, 15 of 43 at 0.0-8.6%. Leaving
  each training sequence's first 32 steps out of the quantile (measured
  outside this script, on the first 7) caught 10 of 19 at 0.0-3.0%: not
  taken.
- Against the last-state-only baseline (the same GRU reading sliding
  windows and keeping only each window's final state) the per-step scores
  are sharper: on kdd_tsad_135's 12-step anomaly the default's VUS-PR is
  0.845 against 0.031, and the picture shows why: the baseline smears the
  anomaly over every window that contains it, and the unpooled scores peak
  after it. On ECG5000, where a whole inserted instance is the anomaly, the
  baseline is about level (0.509 against 0.535).
- One seed, 15 series, a time budget (LSTMAD at 10 epochs): differences
  of a few hundredths between methods are within what another seed moves.
"""


def summary(rows, names):
    out = []
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method and r["dataset"] in names]
        if not mine:
            continue
        out.append({
            "method": method,
            "series": len(mine),
            "mean VUS-PR": float(np.mean([r["vus_pr"] for r in mine])),
            "UCR score (hits)": f"{sum(r['ucr'] for r in mine)}/{len(mine)}",
            "median fit s": float(np.median([r["fit_s"] for r in mine])),
            "median score s": float(np.median([r["score_s"] for r in mine])),
        })
    return out


def per_series(rows, names, key):
    table = []
    for name in names:
        row = {"series": name}
        for r in rows:
            if r["dataset"] == name:
                row.setdefault("steps (train/test)", f"{r['n_train']}/{r['n_test']}")
                row.setdefault("period", r["period"])
                row[r["method"]] = r[key]
        table.append(row)
    return table


def flag_table(rows, names):
    table = []
    for name in names:
        row = {"series": name}
        for r in rows:
            if r["dataset"] == name and "caught" in r:
                row[r["method"]] = f"{r['false_alarms']:.3f} / {r['caught']}"
        table.append(row)
    return table


def plot_results(rows, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.2))
    x = np.arange(len(names))
    width = 0.8 / len(METHODS)
    for i, method in enumerate(METHODS):
        values = [next((r["vus_pr"] for r in rows
                        if r["method"] == method and r["dataset"] == n), np.nan)
                  for n in names]
        ax.bar(x + (i - len(METHODS) / 2 + 0.5) * width, values, width, label=method)
    ax.set_xticks(x, names, rotation=15, ha="right")
    ax.set_ylabel(f"VUS-PR (window {VUS_WINDOW})")
    ax.set_title("Anomaly detection: VUS-PR per series (higher is better)")
    ax.legend(fontsize=6.5, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_transient(data, scores, path):
    """The kdd_tsad_135 anomaly: the default detector against the last state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skhidden.plotting import plot_step_scores

    _, test, labels, _ = data
    window = slice(3700, 4700)
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(8, 7))
    plot_step_scores(
        test[window],
        {f"{DEFAULT} (every state, spans 32 and 128)": scores[DEFAULT][window],
         UNPOOLED: scores[UNPOOLED][window],
         f"{LAST_STATE}, per window": scores[LAST_STATE][window]},
        labels=labels[window],
        ax=axes,
    )
    axes[0].set_title("kdd_tsad_135, steps 3700-4699: a 12-step labelled anomaly "
                      "(shaded)", fontsize="small", loc="left")
    axes[-1].set_xlabel("step (from 3700)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(rows, env, names, output):
    tuning = [n for n in names if n in TUNING_SERIES]
    more = [n for n in names if n in MORE_SETS]
    confirmation = [n for n in names if n not in TUNING_SERIES + MORE_SETS]
    parts = [
        "# Anomaly detection (issue 13)\n",
        "Regenerate with `python benchmarks/anomaly.py` (about 20 minutes on the "
        "machine below). Every method is fit on the normal training series and "
        "scores the test series (STOMP and MatrixProfile read the test series "
        "only); one seed (0) per method. VUS-PR is aeon 1.6.0's "
        f"`range_pr_vus_score(max_buffer_size={VUS_WINDOW})` on every series "
        "(`skhidden.metrics.vus_pr` gave the same value on every row, to 1e-9); "
        "the UCR score counts the series whose top-scored step lies within 100 "
        "steps of a labelled anomaly. Times are wall-clock seconds with one "
        "torch thread, on a 2-core machine shared with other benchmarks (read "
        "them as rough). The setup of each method is in the module docstring "
        "of `benchmarks/anomaly.py`.\n",
        f"Machine: {machine_line(env)}, load {env['load_1min']} at the report.\n",
        "## Summary\n",
        f"All {len(names)} series:\n",
        markdown_table(summary(rows, names)),
        f"\nTuning series ({', '.join(tuning)}):\n",
        markdown_table(summary(rows, tuning)),
        f"\nConfirmation series ({', '.join(confirmation)}):\n",
        markdown_table(summary(rows, confirmation)),
        *([f"\nSeries added on 2026-12-07, after the default was chosen "
           f"({', '.join(more)}):\n", markdown_table(summary(rows, more))]
          if more else []),
        "\n## VUS-PR per series\n",
        markdown_table(per_series(rows, names, "vus_pr")),
        "\n## UCR score per series (1 = top score within 100 steps of an anomaly)\n",
        markdown_table(per_series(rows, names, "ucr")),
        "\n## Fit seconds per series (STOMP and MatrixProfile: all in scoring)\n",
        markdown_table(per_series(rows, names, "fit_s")),
        "\n## skhidden's flags (`predict_steps`, `contamination=0.01`): share "
        "of normal test steps flagged / labelled anomalies with a flagged step\n",
        markdown_table(flag_table(rows, names)),
        "\n" + NOTES,
        "\n![VUS-PR per series](anomaly.png)\n",
        "\n![kdd_tsad_135: every state against the last state only]"
        "(anomaly_transient.png)\n",
    ]
    with open(os.path.join(output, "anomaly.md"), "w") as f:
        f.write("\n".join(parts))


# ------------------------------------------------------------------- run
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, 2 series")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    os.makedirs(args.output, exist_ok=True)
    names = ["kdd_tsad_135", "ecg_diff_count_3", *UCR_SETS, *MORE_SETS]
    if args.quick:
        names = names[:1] + names[2:3]
    env = environment()
    with threadpool_limits(1):
        _warm_up()
    rows, kdd_scores = [], {}
    for name in names:
        data = load_series(name)
        train, test, labels, period = data
        for method in METHODS:
            # One OpenMP thread for every library: oneDNN's GEMM (pyod's LSTM)
            # otherwise starts a team of 2, which crawls on a shared machine.
            with threadpool_limits(1):
                scores, fit_s, score_s, flags = run_method(
                    method, train, test, period, args.quick
                )
            row = {"dataset": name, "method": method, "n_train": len(train),
                   "n_test": len(test), "period": period, "fit_s": fit_s,
                   "score_s": score_s, **evaluate(labels, scores),
                   **evaluate_flags(labels, flags)}
            rows.append(row)
            print(f"[anomaly] {name:18s} {method:24s} VUS-PR {row['vus_pr']:.3f} "
                  f"UCR {row['ucr']} fit {fit_s:.1f}s score {score_s:.1f}s", flush=True)
            if name == "kdd_tsad_135" and method in (DEFAULT, UNPOOLED, LAST_STATE):
                kdd_scores[method] = scores
        if name == "kdd_tsad_135":
            plot_transient(data, kdd_scores, os.path.join(args.output,
                                                          "anomaly_transient.png"))
    with open(os.path.join(args.output, "anomaly_rows.json"), "w") as f:
        json.dump(rows, f, indent=0)
    write_report(rows, env, names, args.output)
    plot_results(rows, names, os.path.join(args.output, "anomaly.png"))
    print(f"wrote {os.path.join(args.output, 'anomaly.md')}")


if __name__ == "__main__":
    main()
