"""Audit every public entry point of art-ext against the contract every class keeps (``docs/contracts.rst``).

Run it as ``python benchmarks/audit.py --out path/to/dir``: it writes ``audit.json`` (every case) and ``audit.md``
(the figures and the list of findings) there and prints the figures. It uses tiny models on 16x16 synthetic images,
so the whole audit takes a few minutes on two CPU cores; ``--no-cli`` skips the command-line cases (subprocesses).

Each case calls one public entry point (constructors, ``set_params``, ``fit``, ``generate``/``poison``,
``__call__``/``forward``, ``detect``, ``predict``, ``save``/``load``, ``load_dataset``, the CLI) with a bad or a valid
input and classifies the result:

``clear error``
    A bad input raised a ``ValueError`` from art-ext's (or ART's) own code whose message names the argument, and
    the object was unchanged (nothing was done before the check).
``unclear error``
    An exception that does not name the argument, comes from deep inside a library (Keras, TensorFlow, NumPy), is
    not a ``ValueError``, or left the object changed; also a valid input that was rejected.
``silent wrong``
    No exception, but the result is wrong: a bad input accepted, a NaN or unchanged output, a ``set_params`` that
    did not take effect or left a rejected value set, an object broken by an earlier bad call, a seed that is not
    deterministic or changes global random state, a save/load round trip that is not identical.
``ok``
    A valid input handled correctly.

Besides, every case hashes its array inputs before and after the call (a change is a *mutation*). The figures the
contract is judged by: the share of bad inputs rejected with a clear error, the number of silent-wrong results, of
mutations, of failed determinism checks, and the CLI user errors that exit with status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import inspect
import json
import os
import pathlib
import pickle
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import warnings

warnings.filterwarnings("ignore", message="PyTorch not found")

import numpy as np

CLEAR, UNCLEAR, SILENT, OK = "clear error", "unclear error", "silent wrong", "ok"
#: Modules whose ``__all__`` is the public API the audit enumerates (``experiments`` are scripts, not API).
PUBLIC_MODULES = (
    "art_ext.attacks.evasion",
    "art_ext.attacks.poisoning",
    "art_ext.defences.preprocessor",
    "art_ext.defences.trainer",
    "art_ext.defences.detector.evasion",
    "art_ext.estimators",
    "art_ext.data",
    "art_ext.metrics",
    "art_ext.models",
    "art_ext.evaluation",
)
#: Image shape and class count of the audit's tiny synthetic task.
SHAPE, K = (16, 16, 1), 3
#: Source folders whose exceptions count as the library's own checks (not a crash deep in a dependency).
OWN_CODE = (os.sep + "art_ext" + os.sep, os.sep + "art" + os.sep)
NAN, INF = float("nan"), float("inf")


@dataclass
class Result:
    entry: str
    case: str
    kind: str  # "bad" (must be rejected), "valid" (must work), "edge" (a clear error or a correct result)
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    mutated: bool = False
    determinism: bool = False


# ---------------------------------------------------------------------------------------------- fingerprints


def _digest(value: Any, depth: int = 0) -> str:
    """A hash of arrays, Keras models, classifiers and plain values (for mutation and state checks)."""
    import keras

    if isinstance(value, np.ndarray):
        data = pickle.dumps(value) if value.dtype == object else np.ascontiguousarray(value).tobytes()
        return hashlib.sha1(data + str((value.dtype, value.shape)).encode()).hexdigest()
    if isinstance(value, keras.Model):
        h = hashlib.sha1()
        for w in value.weights:
            h.update(np.asarray(w.numpy()).tobytes())
        return "model:" + h.hexdigest()
    if hasattr(value, "model") and isinstance(getattr(value, "model", None), keras.Model) and depth < 2:
        return "estimator:" + _digest(value.model, depth + 1)
    if isinstance(value, (list, tuple)) and depth < 2:
        return "[" + ",".join(_digest(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict) and depth < 2:
        return "{" + ",".join(f"{k}:{_digest(v, depth + 1)}" for k, v in sorted(value.items(), key=str)) + "}"
    if isinstance(value, (str, bytes, int, float, bool, type(None), np.number, np.bool_)):
        return repr(value)
    return type(value).__name__


def state_of(obj: Any) -> str:
    """Fingerprint of an object's public parameters, fitted attributes and network weights."""
    parts = []
    for key, value in sorted(vars(obj).items()):
        if key in ("_staging", "_noise_fns", "_step_fns", "_denoise", "_optimise", "_met_fn", "history_"):
            continue
        parts.append(f"{key}={_digest(value)}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()


def global_rng_state() -> dict[str, str]:
    """Python's, NumPy's, TensorFlow's and Keras's global random state, as digests."""
    from keras.src.backend.common import global_state
    from tensorflow.python.eager import context

    return {
        "python random": hashlib.sha1(pickle.dumps(random.getstate())).hexdigest(),
        "numpy.random": hashlib.sha1(pickle.dumps(np.random.get_state())).hexdigest(),
        "tf global seed": repr(context.global_seed()),
        "keras global seed": repr(global_state.get_global_attribute("global_random_seed")),
    }


# ---------------------------------------------------------------------------------------------- the auditor


def _names_argument(message: str, names: tuple[str, ...]) -> bool:
    for name in names:
        if re.search(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])", message, re.IGNORECASE):
            return True
    return False


def _raised_in_own_code(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and any(part in frames[-1].filename for part in OWN_CODE)


class Auditor:
    """Runs cases and records a :class:`Result` for each."""

    def __init__(self, pattern: str | None = None, verbose: bool = False):
        self.results: list[Result] = []
        self.pattern = re.compile(pattern) if pattern else None
        self.verbose = verbose

    def _wanted(self, entry: str) -> bool:
        return self.pattern is None or bool(self.pattern.search(entry))

    def _add(self, result: Result) -> Result:
        self.results.append(result)
        if self.verbose or result.outcome in (SILENT, UNCLEAR) or result.mutated:
            flag = " MUTATED" if result.mutated else ""
            print(f"  [{result.outcome}{flag}] {result.entry}: {result.case} -- {result.detail[:160]}", flush=True)
        return result

    def case(
        self,
        entry: str,
        case: str,
        kind: str,
        fn: Callable[[], Any],
        names: tuple[str, ...] | str = (),
        check: Callable[[Any], str | None] | None = None,
        inputs: tuple = (),
        state: Callable[[], str] | None = None,
        after: Callable[[], str | None] | None = None,
        rejected_state: str = UNCLEAR,
        restore: Callable[[], None] | None = None,
    ) -> Result | None:
        """Run ``fn()`` and classify it.

        :param kind: ``"bad"``: must raise a clear error naming one of ``names``; ``"valid"``: must return a result
            that ``check`` accepts (``check`` returns ``None`` or what is wrong); ``"edge"``: either.
        :param inputs: Arrays hashed before and after the call (mutation check).
        :param state: Fingerprint of the object, compared before and after a rejected call.
        :param after: A valid call made after a bad one; it returns what is wrong, or ``None``.
        :param rejected_state: Outcome when a rejected call changed ``state`` (``silent wrong`` for ``set_params``).
        :param restore: Called after the case, to isolate the next one from what this one changed.
        """
        if not self._wanted(entry):
            return None
        names = (names,) if isinstance(names, str) else tuple(names)
        before_inputs = [_digest(a) for a in inputs]
        before_state = state() if state else None
        start = time.perf_counter()
        error, out = None, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = fn()
        except Exception as err:  # noqa: BLE001 - the audit classifies every exception
            error = err
        seconds = time.perf_counter() - start
        mutated = [_digest(a) for a in inputs] != before_inputs
        if error is not None:
            message = f"{type(error).__name__}: {error}".replace("\n", " ")
            if kind == "valid":
                outcome, detail = UNCLEAR, "valid input rejected: " + message
            elif rejected_state == SILENT and state is not None and state() != before_state:
                outcome, detail = SILENT, "rejected, but the object changed: " + message
            elif not isinstance(error, ValueError):
                outcome, detail = UNCLEAR, "not a ValueError: " + message
            elif not _raised_in_own_code(error):
                outcome, detail = UNCLEAR, "raised inside a dependency: " + message
            elif names and not _names_argument(str(error), names):
                outcome, detail = UNCLEAR, f"does not name {' / '.join(names)}: " + message
            elif state is not None and state() != before_state:
                outcome, detail = rejected_state, "object changed although the call was rejected: " + message
            else:
                outcome, detail = CLEAR, message
        else:
            problem = None
            if kind == "bad":
                problem = "bad input accepted"
            elif check is not None:
                try:
                    problem = check(out)
                except Exception as err:  # noqa: BLE001
                    problem = f"result cannot be checked: {type(err).__name__}: {err}"
            outcome, detail = (SILENT, problem) if problem else (OK, "")
        if restore is not None:
            restore()
        if after is not None and kind != "valid":
            try:
                problem = after()
            except Exception as err:  # noqa: BLE001
                problem = f"{type(err).__name__}: {err}"
            if problem:
                outcome, detail = SILENT, f"later valid call broken ({problem[:200]}) after: {detail}"
        return self._add(Result(entry, case, kind, outcome, detail[:600], round(seconds, 3), mutated))

    def bad(self, entry, case, fn, names, **kw):
        return self.case(entry, case, "bad", fn, names, **kw)

    def valid(self, entry, case, fn, check=None, **kw):
        return self.case(entry, case, "valid", fn, check=check, **kw)

    def edge(self, entry, case, fn, names, check=None, **kw):
        return self.case(entry, case, "edge", fn, names, check=check, **kw)

    def determinism(self, entry: str, run: Callable[[int], Any], seed_matters: bool = True) -> None:
        """Same seed -> identical output whatever the global random state; global random state untouched."""
        if not self._wanted(entry):
            return
        start = time.perf_counter()
        problems = []
        try:
            outputs = []
            for global_seed in (1, 2):
                random.seed(global_seed)
                np.random.seed(global_seed)
                before = global_rng_state()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outputs.append(_as_arrays(run(7)))
                after = global_rng_state()
                touched = [k for k in before if before[k] != after[k]]
                if touched and global_seed == 1:
                    problems.append("global random state changed: " + ", ".join(touched))
            if not _same(outputs[0], outputs[1]):
                problems.append("same seed, different output (under a different global random state)")
            if seed_matters and _same(outputs[0], _as_arrays(run(8))):
                problems.append("another seed gives the identical output (the seed is ignored)")
            outcome = SILENT if problems else OK
        except Exception as err:  # noqa: BLE001
            outcome, problems = UNCLEAR, [f"{type(err).__name__}: {err}"]
        self._add(
            Result(
                entry,
                "same seed -> identical output, global RNG untouched",
                "valid",
                outcome,
                "; ".join(problems)[:600],
                round(time.perf_counter() - start, 3),
                determinism=True,
            )
        )


def _as_arrays(out: Any) -> list[np.ndarray]:
    import keras

    if isinstance(out, keras.Model):
        return [np.asarray(w) for w in out.get_weights()]
    if isinstance(out, (list, tuple)):
        return [a for o in out for a in _as_arrays(o)]
    return [np.asarray(out)]


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------------- tiny fixtures


def make_data(n: int, seed: int = 0, shape=SHAPE, classes: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is the bright quadrant (easy for a tiny CNN), in [0, 1], and int64 labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.uniform(0.0, 0.3, (n, *shape)).astype(np.float32)
    h, w = shape[0] // 2, shape[1] // 2
    for c in range(classes):
        r, q = divmod(c, 2)
        x[y == c, r * h : (r + 1) * h, q * w : (q + 1) * w] += 0.6
    return np.clip(x, 0.0, 1.0), y.astype(np.int64)


def tiny_model(outputs: int, seed: int = 0, shape=SHAPE, softmax: bool = False):
    import keras

    from art_ext.params import seeded

    with seeded(seed):
        return keras.Sequential(
            [
                keras.Input(shape),
                keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
                keras.layers.Flatten(),
                keras.layers.Dense(outputs, activation="softmax" if softmax else None),
            ]
        )


def tiny_classifier(outputs: int = K, seed: int = 0, fit: bool = True, **kwargs):
    from art_ext.estimators import wrap

    clf = wrap(tiny_model(outputs, seed), learning_rate=1e-2, **kwargs)
    if fit:
        x, y = make_data(96, seed=seed, classes=min(outputs, K))
        clf.fit(x, y, batch_size=32, nb_epochs=3, verbose=False)
    return clf


# ---------------------------------------------------------------------------------------------- generic cases


def x_cases(
    x: np.ndarray,
    clip=(0.0, 1.0),
    fixed_size: bool = True,
    empty: str = "edge",
    rank5_ok: bool = False,
    ranged: bool = True,
    channels_fixed: bool = True,
):
    """``(case, array, kind)`` for a batch argument: shapes, dtypes, ranges, NaN/inf, empty and single batches.

    ``empty="bad"`` marks a training call: an empty batch must be refused and a single sample may be (``edge``).
    ``ranged=False``: the argument has no range and no fixed channel count (e.g. the GNR's noise).
    """
    lo, hi = clip
    one = lambda v: _with(x, v)
    cases = [
        ("rank 3 (one image, no batch axis)", x[0], "bad"),
        ("rank 2 (flattened)", x.reshape(len(x), -1), "bad"),
        ("wrong channel count", np.concatenate([x, x], axis=-1), "bad"),
        ("uint8 0-255", np.round((x - lo) / (hi - lo) * 255).astype(np.uint8), "bad"),
        ("bool", x > (lo + hi) / 2, "bad"),
        ("strings", x.astype(str), "bad"),
        ("complex", x.astype(np.complex64), "bad"),
        ("above clip_values", one(hi + 0.5 * (hi - lo)), "bad"),
        ("below clip_values", one(lo - 0.5 * (hi - lo)), "bad"),
        ("NaN", one(NAN), "bad"),
        ("inf", one(INF), "bad"),
        ("None", None, "bad"),
        ("a string", "images", "bad"),
        ("integers in range", np.round(x).astype(np.int64), "valid"),
        ("float64", x.astype(np.float64), "valid"),
        ("single sample", x[:1], "edge" if empty == "bad" else "valid"),
        ("empty batch", x[:0], empty),
    ]
    if not ranged:
        unranged = ("wrong channel count", "uint8 0-255", "above clip_values", "below clip_values")
        cases = [c for c in cases if c[0] not in unranged]
    if not channels_fixed:  # any channel count is valid (JPEG's luminance path) or learnt from x (a fit)
        cases = [c for c in cases if c[0] != "wrong channel count"]
    if not rank5_ok:
        cases.insert(2, ("rank 5", x[..., None], "bad"))
    if fixed_size:
        cases.insert(3, ("wrong image size", x[:, :-2, :-2], "bad"))
    return cases


def _with(x: np.ndarray, value: float) -> np.ndarray:
    out = x.copy()
    out.flat[out.size // 2] = value
    return out


def y_cases(y: np.ndarray, classes: int = K):
    """``(case, labels, kind)`` for a label argument of ``len(y)`` samples and ``classes`` classes."""
    onehot = np.eye(classes, dtype=np.float32)[y]
    zero_row = onehot.copy()
    zero_row[0] = 0
    return [
        ("class indices", y, "valid"),
        ("one-hot", onehot, "valid"),
        ("an all-zero one-hot row", zero_row, "bad"),
        ("one-hot of the wrong width", np.eye(classes + 1, dtype=np.float32)[y], "bad"),
        ("strings", y.astype(str), "bad"),
        ("index out of range", _with(y, classes), "bad"),
        ("negative index", _with(y, -1), "bad"),
        ("non-integer floats", y.astype(np.float32) + 0.5, "bad"),
        ("NaN", _with(y.astype(np.float32), NAN), "bad"),
        ("wrong length", y[:-1], "bad"),
        ("rank 3", onehot[:, :, None], "bad"),
    ]


#: Bad values per parameter kind ("?" at the end: ``None`` is allowed).
BAD_VALUES: dict[str, list] = {
    "pos_int": [0, -1, True, 2.5, NAN, "3"],
    "nonneg_int": [-1, True, 2.5, "3"],
    "pos_real": [0, -1.0, NAN, INF, True, "0.1"],
    "nonneg_real": [-1.0, NAN, INF, True, "0.1"],
    "unit": [-0.1, 1.5, NAN, True, "0.5"],
    "bool": [2, "yes"],
    "seed": [-1, 2.5, "1", True, 2**40],
    "clip": [(1.0, 0.0), (0.0, INF), (NAN, 1.0), "ab", (0.0, 1.0, 2.0)],
    "option": ["bogus", 3],
}


def bad_values(spec) -> list:
    if isinstance(spec, list):
        return spec
    none_ok = spec.endswith("?")
    values = list(BAD_VALUES[spec.rstrip("?")])
    return values if none_ok else values + [None]


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    text = repr(value)
    return text if len(text) < 40 else text[:37] + "..."


def audit_params(
    a: Auditor,
    name: str,
    make: Callable[..., Any],
    kwargs: dict,
    specs: dict[str, Any],
    built: Any | None = None,
    unknown: str = "bogus_param",
) -> None:
    """Constructor and ``set_params`` with every bad value of every parameter; unknown key; round trip."""
    for param, spec in specs.items():
        for value in bad_values(spec):
            a.bad(f"{name}()", f"{param}={_short(value)}", lambda p=param, v=value: make(**{**kwargs, p: v}), param)
    if built is None:
        return
    obj = built
    entry = f"{name}.set_params"
    st = lambda: state_of(obj)
    saved = dict(vars(obj))

    def restore():  # each case starts from the same object, whatever the previous one left set
        vars(obj).clear()
        vars(obj).update(saved)

    for param, spec in specs.items():
        for value in bad_values(spec):
            a.bad(
                entry,
                f"{param}={_short(value)} (atomic)",
                lambda p=param, v=value: obj.set_params(**{p: v}),
                param,
                state=st,
                rejected_state=SILENT,
                restore=restore,
            )
    a.bad(
        entry,
        f"misspelt key {unknown}=1",
        lambda: obj.set_params(**{unknown: 1}),
        unknown,
        state=st,
        rejected_state=SILENT,
        restore=restore,
    )

    def round_trip():
        params = obj.get_params()
        before = state_of(obj)
        obj.set_params(**params)
        return None if state_of(obj) == before else "set_params(**get_params()) changed the object"

    a.valid(entry, "round trip set_params(**get_params())", round_trip, check=lambda problem: problem)


def audit_array_entry(
    a: Auditor,
    entry: str,
    call: Callable[[Any], Any],
    x: np.ndarray,
    check_ok: Callable,
    clip=(0.0, 1.0),
    fixed_size=True,
    empty="edge",
    rank5_ok=False,
    state=None,
    after=None,
    names=("x",),
    valid: bool = True,
    ranged: bool = True,
    channels_fixed: bool = True,
) -> None:
    """The cases of :func:`x_cases` on ``call(x)``; ``valid=False`` skips the valid ones (for slow fits, whose
    valid call the section makes once itself)."""
    for case, value, kind in x_cases(x, clip, fixed_size, empty, rank5_ok, ranged, channels_fixed):
        inputs = (value,) if isinstance(value, np.ndarray) else ()
        if kind == "valid" and not valid:
            continue
        if kind == "valid":
            a.valid(
                entry, f"x: {case}", lambda v=value: call(v), check=lambda out, v=value: check_ok(out, v), inputs=inputs
            )
        else:
            a.case(
                entry,
                f"x: {case}",
                kind,
                lambda v=value: call(v),
                names,
                check=lambda out, v=value: check_ok(out, v),
                inputs=inputs,
                state=state,
                after=after,
            )


def audit_label_entry(
    a: Auditor,
    entry: str,
    call: Callable[[Any], Any],
    y: np.ndarray,
    classes: int = K,
    state=None,
    check_ok: Callable[[Any], str | None] | None = None,
    valid: bool = True,
) -> None:
    for case, value, kind in y_cases(y, classes):
        if kind == "valid" and not valid:
            continue
        if kind == "valid":
            a.valid(entry, f"y: {case}", lambda v=value: call(v), check=check_ok, inputs=(value,))
        else:
            a.bad(entry, f"y: {case}", lambda v=value: call(v), "y", inputs=(value,), state=state)


def audit_ints(a: Auditor, entry: str, call: Callable[..., Any], params: dict[str, str], state=None) -> None:
    """Keyword arguments of a call (``batch_size``, ``nb_epochs``, ...)."""
    for param, spec in params.items():
        for value in bad_values(spec):
            a.bad(entry, f"{param}={_short(value)}", lambda p=param, v=value: call(**{p: v}), param, state=state)


def finite_like(shape_of: Callable[[np.ndarray], tuple], clip=None) -> Callable:
    def check(out, x):
        out = out[0] if isinstance(out, tuple) else out
        out = np.asarray(out)
        if out.shape != shape_of(np.asarray(x)):
            return f"output shape {out.shape}, expected {shape_of(np.asarray(x))}"
        if out.size and not np.all(np.isfinite(out)):
            return "non-finite output"
        if clip is not None and out.size and (out.min() < clip[0] - 1e-5 or out.max() > clip[1] + 1e-5):
            return f"output outside clip_values: [{out.min():.3g}, {out.max():.3g}]"
        return None

    return check


def works(call: Callable[[], Any], reference: np.ndarray) -> Callable[[], str | None]:
    """An ``after`` check: a valid call still gives the reference output."""

    def after():
        out = call()
        out = np.asarray(out[0] if isinstance(out, tuple) else out)
        return None if np.allclose(out, reference, atol=1e-5) else "output of a valid call changed"

    return after


# ---------------------------------------------------------------------------------------------- per component


def audit_classifiers(a: Auditor, x, y) -> dict:
    """``wrap``, ``NClassView``, ``MajorityVoteClassifier``, ``FilteringPipeline`` and the TF path ART uses."""
    import keras

    from art_ext.estimators import (
        FilteringPipeline,
        MajorityVoteClassifier,
        NClassView,
        wrap,
    )

    fx = {
        "clf": tiny_classifier(K, 0),
        "clf_b": tiny_classifier(K, 1),
        "clf2n": tiny_classifier(2 * K, 2),
        "clfnull": tiny_classifier(K + 1, 3),
    }
    clf = fx["clf"]
    # wrap leaves the clip_values range check to the caller, as ART does, unless asked (check_range=True)
    strict = {"check_range": True} if "check_range" in inspect.signature(wrap).parameters else {}
    checked = tiny_classifier(K, 0, **strict)
    entry = "wrap(check_range=True)" if strict else "wrap(...)"
    shape_pred = lambda v: (len(v), K)
    ref = checked.predict(x)
    audit_array_entry(
        a,
        f"{entry}.predict",
        lambda v: checked.predict(v),
        x,
        finite_like(shape_pred),
        after=works(lambda: checked.predict(x), ref),
    )
    audit_ints(a, f"{entry}.predict", lambda **kw: checked.predict(x, **kw), {"batch_size": "pos_int"})
    if strict:
        for case, value in (("above clip_values", _with(x, 1.5)), ("uint8 0-255", np.round(x * 255).astype(np.uint8))):
            a.valid(
                "wrap(...).predict",
                f"x: {case} (no range check by default, as in ART)",
                lambda v=value: clf.predict(v),
                check=lambda out: None if np.all(np.isfinite(out)) else "non-finite",
            )
        for case, value in (("NaN", _with(x, NAN)), ("rank 3", x[0]), ("strings", x.astype(str))):
            a.bad(
                "wrap(...).predict",
                f"x: {case}",
                lambda v=value: clf.predict(v),
                "x",
                inputs=(value,),
                after=works(lambda: clf.predict(x), clf.predict(x)),
            )
    fit_clf = tiny_classifier(K, 4, **strict)
    fit_state = lambda: _digest(fit_clf.model)
    fit_check = lambda out, v=None: (
        None if all(np.all(np.isfinite(w)) for w in fit_clf.model.get_weights()) else "weights not finite"
    )
    audit_array_entry(
        a,
        f"{entry}.fit",
        lambda v: fit_clf.fit(
            v,
            y[: len(v)] if v is not None and hasattr(v, "__len__") and len(v) <= len(y) else y,
            nb_epochs=1,
            verbose=False,
        ),
        x,
        fit_check,
        empty="bad",
        state=fit_state,
    )
    audit_label_entry(a, f"{entry}.fit", lambda v: fit_clf.fit(x, v, nb_epochs=1, verbose=False), y, state=fit_state)
    audit_ints(
        a,
        f"{entry}.fit",
        lambda **kw: fit_clf.fit(x, y, verbose=False, **kw),
        {"batch_size": "pos_int", "nb_epochs": "pos_int"},
        state=fit_state,
    )

    model = tiny_model(K, 5)
    wrap_specs = {
        "nb_classes": [1, 0, True, 2.5, "3", K + 1],
        "input_shape": [(8, 8, 1), "ab"],
        "clip_values": "clip?",
        "learning_rate": "pos_real",
        "sparse_labels": "bool",
        "from_logits": [2, "yes"],
    }
    audit_params(a, "wrap", lambda **kw: wrap(**kw), {"model": model}, wrap_specs)
    a.bad("wrap()", "model=3", lambda: wrap(3), "model")
    a.bad("wrap()", "model not built", lambda: wrap(keras.Sequential([keras.layers.Dense(3)])), "model")
    from art_ext.estimators import MergeExtendedClasses, make_train_step

    a.valid(
        "make_train_step",
        "one step lowers nothing to NaN",
        lambda: float(
            make_train_step(keras.losses.SparseCategoricalCrossentropy(from_logits=True), keras.optimizers.SGD(0.01))(
                model, x, y
            )
        ),
        check=lambda loss: None if np.isfinite(loss) else "non-finite loss",
    )
    a.valid(
        "MergeExtendedClasses",
        "2n merge",
        lambda: np.asarray(MergeExtendedClasses("2n")(np.zeros((2, 2 * K), np.float32))),
        check=lambda out: None if out.shape == (2, K) else f"{out.shape}",
    )
    a.bad("MergeExtendedClasses", "kind='bogus'", lambda: MergeExtendedClasses("bogus"), "kind")
    a.bad(
        "MergeExtendedClasses",
        "odd width for 2n",
        lambda: MergeExtendedClasses("2n")(np.zeros((2, 5), np.float32)),
        ("2n", "inputs", "outputs"),
    )

    # the TensorFlow path ART uses: preprocessing defences inside predict / loss_gradient
    from art_ext.defences.preprocessor import UDDN, JpegCompressionTensorFlowV2

    uddn = UDDN(guide="pixels", channels=1, widths=(2, 2, 2, 2, 2), seed=0)
    for label, defence in (("UDDN", uddn), ("JpegCompressionTensorFlowV2", JpegCompressionTensorFlowV2())):
        defended = wrap(tiny_model(K, 0), preprocessing_defences=[defence])
        entry = f"wrap(preprocessing_defences=[{label}])"
        for case, value in (("NaN", _with(x, NAN)), ("inf", _with(x, INF)), ("above clip_values", _with(x, 1.5))):
            a.bad(entry + ".predict", f"x: {case}", lambda v=value, d=defended: d.predict(v), "x", inputs=(value,))
            a.bad(
                entry + ".loss_gradient",
                f"x: {case}",
                lambda v=value, d=defended: d.loss_gradient(v, np.eye(K, dtype=np.float32)[y]),
                "x",
                inputs=(value,),
            )

    a.valid(
        "wrap(...)",
        "deepcopy of a trained classifier",
        lambda: copy.deepcopy(clf).predict(x),
        check=lambda out: None if np.allclose(out, clf.predict(x)) else "the copy predicts differently",
    )
    from art_ext import metrics

    if hasattr(metrics, "accuracy"):
        a.valid(
            "accuracy", "valid", lambda: metrics.accuracy(clf, x, y), check=lambda v: None if 0 <= v <= 1 else f"{v}"
        )
        audit_label_entry(a, "accuracy", lambda v: metrics.accuracy(clf, x, v), y)
        audit_ints(a, "accuracy", lambda **kw: metrics.accuracy(clf, x, y, **kw), {"batch_size": "pos_int"})
    view = NClassView(fx["clf2n"])
    view_ref = view.predict(x)
    audit_array_entry(
        a,
        "NClassView.predict",
        lambda v: view.predict(v),
        x,
        finite_like(shape_pred),
        after=works(lambda: view.predict(x), view_ref),
    )
    audit_params(
        a,
        "NClassView",
        lambda **kw: NClassView(**kw),
        {"classifier": fx["clf2n"]},
        {"classifier": [3, clf], "kind": "option"},
    )
    a.valid(
        "NClassView",
        "deepcopy",
        lambda: copy.deepcopy(view).predict(x),
        check=lambda out: None if np.allclose(out, view_ref) else "the copy predicts differently",
    )

    vote = MajorityVoteClassifier([clf, fx["clf_b"]])
    vote_ref = vote.predict(x)
    audit_array_entry(
        a,
        "MajorityVoteClassifier.predict",
        lambda v: vote.predict(v),
        x,
        finite_like(shape_pred),
        after=works(lambda: vote.predict(x), vote_ref),
    )
    audit_ints(a, "MajorityVoteClassifier.predict", lambda **kw: vote.predict(x, **kw), {"batch_size": "pos_int"})
    audit_params(
        a,
        "MajorityVoteClassifier",
        lambda **kw: MajorityVoteClassifier(**kw),
        {"classifiers": [clf, fx["clf_b"]]},
        {"classifiers": [[], None, [3], [clf, fx["clf2n"]]], "clip_values": "clip?", "channels_first": "bool"},
    )

    from art_ext.defences.detector.evasion import TwoNLabelingDetector

    detector = TwoNLabelingDetector(fx["clf2n"])
    pipe = FilteringPipeline(detector, view)
    pipe_ref = pipe.predict(x)[0]
    audit_array_entry(
        a,
        "FilteringPipeline.predict",
        lambda v: pipe.predict(v),
        x,
        lambda out, v: None if out[0].shape == (len(v),) else f"labels of shape {out[0].shape}",
        after=works(lambda: pipe.predict(x)[0], pipe_ref),
    )
    audit_ints(a, "FilteringPipeline.predict", lambda **kw: pipe.predict(x, **kw), {"batch_size": "pos_int"})
    audit_params(
        a,
        "FilteringPipeline",
        lambda **kw: FilteringPipeline(**kw),
        {"detector": detector, "classifier": view},
        {"detector": [3, None], "classifier": [3, None]},
    )
    return fx


def audit_detectors(a: Auditor, fx: dict, x) -> None:
    from art_ext.defences.detector.evasion import (
        NullLabelingDetector,
        TwoNLabelingDetector,
    )

    # a 3-output classifier is no 2N model; any model with 3 or more outputs is a valid N + 1 one
    for cls, clf, wrong in (
        (TwoNLabelingDetector, fx["clf2n"], [fx["clf"]]),
        (NullLabelingDetector, fx["clfnull"], []),
    ):
        name = cls.__name__
        det = cls(clf)
        ref = det.detect(x)[1]
        flags = lambda out, v: None if np.asarray(out[1]).shape == (len(v),) else "flags of the wrong shape"
        audit_array_entry(
            a, f"{name}.detect", lambda v, d=det: d.detect(v), x, flags, after=works(lambda d=det: d.detect(x)[1], ref)
        )
        audit_ints(a, f"{name}.detect", lambda d=det, **kw: d.detect(x, **kw), {"batch_size": "pos_int"})
        fit_det = cls(clf)
        st = lambda d=fit_det: state_of(d)
        audit_array_entry(
            a, f"{name}.fit", lambda v, d=fit_det: d.fit(v), x, lambda out, v: None, empty="bad", state=st
        )
        audit_ints(a, f"{name}.fit", lambda d=fit_det, **kw: d.fit(x, **kw), {"batch_size": "pos_int"}, state=st)
        a.valid(
            f"{name}.fit",
            "returns self",
            lambda d=fit_det: d.fit(x),
            check=lambda out, d=fit_det: None if out is d else f"fit returned {type(out).__name__}",
        )
        audit_params(
            a,
            name,
            lambda c=cls, **kw: c(**kw),
            {"classifier": clf},
            {
                "classifier": [3, *wrong, None],
                "threshold": [-0.1, 1.5, NAN, True, "0.5"],
                "target_fpr": [0.0, 1.0, NAN, True, "0.1"],
            },
            built=cls(clf),
        )

        def takes_effect(c=cls, cl=clf):
            d = c(cl)
            d.set_params(threshold=0.0)
            scores, flags = d.detect(x)[0]["attack_probability"], d.detect(x)[1]
            return None if np.array_equal(flags, scores > 0.0) else "threshold set by set_params is not used"

        a.valid(f"{name}.set_params", "threshold takes effect", takes_effect, check=lambda p: p)


def audit_jpeg(a: Auditor, x) -> None:
    from art_ext.defences.preprocessor import (
        JpegCompressionTensorFlowV2,
        NNFavoredJpeg,
        bits_per_pixel,
        dct_coefficient_std,
        design_quantization_table,
    )

    jpeg = JpegCompressionTensorFlowV2(quality=50)
    ref = jpeg(x)[0]
    same_shape = finite_like(lambda v: v.shape, clip=(0, 1))
    audit_array_entry(
        a,
        "JpegCompressionTensorFlowV2.__call__",
        lambda v: jpeg(v),
        x,
        same_shape,
        fixed_size=False,
        channels_fixed=False,
        rank5_ok=True,
        after=works(lambda: jpeg(x)[0], ref),
    )
    rgb, _ = make_data(4, 1, shape=(16, 16, 3))
    a.bad(
        "JpegCompressionTensorFlowV2.__call__",
        "NCHW batch without channels_first",
        lambda: jpeg(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))),
        ("channels_first", "x"),
    )
    a.bad(
        "JpegCompressionTensorFlowV2.__call__",
        "NHWC batch with channels_first=True",
        lambda: JpegCompressionTensorFlowV2(channels_first=True)(rgb),
        ("channels_first", "x"),
    )
    import tensorflow as tf

    for case, value in (("NaN", _with(x, NAN)), ("above clip_values", _with(x, 1.5))):
        a.bad("JpegCompressionTensorFlowV2.forward", f"x: {case}", lambda v=value: jpeg.forward(tf.constant(v)), "x")
    specs = {
        "clip_values": "clip",
        "quality": [0, 101, -1, True, 2.5, "50", NAN, None],
        "quantization_table": [np.zeros((8, 8)), np.ones((7, 8)), "table", np.full((8, 8), NAN), -np.ones((8, 8))],
        "chroma_subsampling": "bool",
        "channels_first": "bool",
        "gradient_estimator": "option",
        "emulate_libjpeg": "bool",
        "batch_size": "pos_int",
        "verbose": "bool",
    }
    audit_params(
        a,
        "JpegCompressionTensorFlowV2",
        lambda **kw: JpegCompressionTensorFlowV2(**kw),
        {},
        specs,
        built=JpegCompressionTensorFlowV2(),
        unknown="qualty",
    )

    def quality_takes_effect():
        j = JpegCompressionTensorFlowV2(quality=50)
        j(x)
        j.set_params(quality=10)
        return (
            None
            if np.array_equal(j(x)[0], JpegCompressionTensorFlowV2(quality=10)(x)[0])
            else "quality set by set_params is not applied"
        )

    a.valid("JpegCompressionTensorFlowV2.set_params", "quality takes effect", quality_takes_effect, check=lambda p: p)

    nn = NNFavoredJpeg()
    nn.fit(x)
    nn_ref = nn(x)[0]
    audit_array_entry(
        a,
        "NNFavoredJpeg.__call__",
        lambda v: nn(v),
        x,
        same_shape,
        fixed_size=False,
        rank5_ok=True,
        channels_fixed=False,
        after=works(lambda: nn(x)[0], nn_ref),
    )
    fit_nn = NNFavoredJpeg()
    audit_array_entry(
        a,
        "NNFavoredJpeg.fit",
        lambda v: fit_nn.fit(v),
        x,
        lambda out, v: None,
        fixed_size=False,
        channels_fixed=False,
        rank5_ok=True,
        empty="bad",
        state=lambda: state_of(fit_nn),
    )
    a.valid(
        "NNFavoredJpeg.fit",
        "returns self",
        lambda: fit_nn.fit(x),
        check=lambda out: None if out is fit_nn else f"fit returned {type(out).__name__}",
    )
    a.bad("NNFavoredJpeg.__call__", "not fitted (no table)", lambda: NNFavoredJpeg()(x), ("fit", "table"))
    nn_specs = {
        **specs,
        "preset": "option?",
        "q_min": [0, -1, NAN, True, 300, "5"],
        "q_max": [0, NAN, True, 300, "60"],
        "thresholds": [(1.0,), "ab", (NAN, 1.0), (2.0, 1.0)],
        "quantiles": [(0.9, 0.1), (-0.1, 0.5), (0.2, 1.5), "ab"],
    }
    nn_specs.pop("quality")
    built = NNFavoredJpeg()
    built.fit(x)
    audit_params(a, "NNFavoredJpeg", lambda **kw: NNFavoredJpeg(**kw), {}, nn_specs, built=built, unknown="qualty")

    def preset_takes_effect():
        n = NNFavoredJpeg()
        n.set_params(preset="feature_distillation")
        return (
            None
            if np.array_equal(n.tables, NNFavoredJpeg(preset="feature_distillation").tables)
            else "preset set by set_params is not applied"
        )

    a.valid("NNFavoredJpeg.set_params", "preset takes effect", preset_takes_effect, check=lambda p: p)
    audit_persistence(a, "NNFavoredJpeg", nn, lambda o: o(x)[0], ".json")

    std = dct_coefficient_std(x)
    a.valid(
        "dct_coefficient_std",
        "valid images",
        lambda: dct_coefficient_std(x),
        check=lambda out: None if np.all(np.isfinite(out)) else "non-finite",
    )
    for case, value, kind in x_cases(x, fixed_size=False, empty="bad", rank5_ok=True, channels_fixed=False):
        if kind == "bad":
            a.bad(
                "dct_coefficient_std",
                f"x: {case}",
                lambda v=value: dct_coefficient_std(v),
                "x",
                inputs=(value,) if isinstance(value, np.ndarray) else (),
            )
    for case, value in (
        ("std NaN", np.full_like(std, NAN)),
        ("std negative", -std - 1),
        ("std wrong shape", std[..., :3]),
        ("std strings", std.astype(str)),
    ):
        a.bad("design_quantization_table", case, lambda v=value: design_quantization_table(v), "std")
    for param, values in {
        "q_min": [0, NAN, 300, True],
        "q_max": [0, NAN, 300],
        "quantiles": [(0.9, 0.1), "ab"],
        "thresholds": [(NAN, 1.0), "ab"],
    }.items():
        for v in values:
            a.bad(
                "design_quantization_table",
                f"{param}={_short(v)}",
                lambda p=param, v=v: design_quantization_table(std, **{p: v}),
                param,
            )
    tables = NNFavoredJpeg(preset="feature_distillation").tables
    a.valid(
        "bits_per_pixel",
        "valid",
        lambda: bits_per_pixel(x, tables),
        check=lambda out: None if np.isfinite(out) and out > 0 else f"bits per pixel {out}",
    )
    for case, value in (
        ("tables zeros", np.zeros((8, 8))),
        ("tables NaN", np.full((8, 8), NAN)),
        ("tables wrong shape", np.ones((4, 4))),
    ):
        a.bad("bits_per_pixel", case, lambda v=value: bits_per_pixel(x, v), "tables")
    for case, value, kind in x_cases(x, fixed_size=False, empty="bad"):
        if kind == "bad":
            a.bad("bits_per_pixel", f"x: {case}", lambda v=value: bits_per_pixel(v, tables), "x")


def audit_uddn_gnr(a: Auditor, fx: dict, x, y) -> None:
    from art_ext.defences.preprocessor import GNR, UDDN

    tiny = {"widths": (2, 2, 2, 2, 2), "attacks": ("fgsm",), "batch_size": len(x), "seed": 0}  # one batch shape
    uddn = UDDN(fx["clf"], **tiny)
    fitted = uddn.fit(x, y, nb_epochs=1)
    a.valid(
        "UDDN.fit",
        "returns self",
        lambda: fitted,
        check=lambda out: None if out is uddn else f"fit returned {type(out).__name__}",
    )
    ref = uddn(x)[0]
    same = finite_like(lambda v: v.shape, clip=(0, 1))
    audit_array_entry(
        a, "UDDN.__call__", lambda v: uddn(v), x, same, fixed_size=False, after=works(lambda: uddn(x)[0], ref)
    )
    import tensorflow as tf

    for case, value in (("NaN", _with(x, NAN)), ("above clip_values", _with(x, 1.5)), ("rank 3", x[0])):
        a.bad("UDDN.forward", f"x: {case}", lambda v=value: uddn.forward(tf.constant(v)), "x")
    fit_u = UDDN(fx["clf"], **tiny)
    st = lambda: state_of(fit_u)
    audit_array_entry(
        a,
        "UDDN.fit",
        lambda v: fit_u.fit(v, nb_epochs=1),
        x,
        lambda out, v: None,
        fixed_size=False,
        empty="bad",
        state=st,
        valid=False,
    )
    audit_label_entry(a, "UDDN.fit", lambda v: fit_u.fit(x, v, nb_epochs=1), y, state=st, valid=False)
    audit_ints(
        a,
        "UDDN.fit",
        lambda **kw: fit_u.fit(x, y, **{"nb_epochs": 1, **kw}),
        {"nb_epochs": "pos_int", "batch_size": "pos_int?", "gnr_ratio": [-1.0, NAN, "1"]},
        state=st,
    )
    for case, value, kind in x_cases(x, fixed_size=True, empty="bad"):
        if kind == "bad" and value is not None:  # x_adversarial=None is valid: the pairs are made by attacks
            a.bad(
                "UDDN.fit",
                f"x_adversarial: {case}",
                lambda v=value: fit_u.fit(x, x_adversarial=v, nb_epochs=1),
                "x_adversarial",
                state=st,
            )
    specs = {
        "guide": "option",
        "clip_values": "clip",
        "channels": [0, -1, True, 2.5, "1", 3],
        "widths": [(4, 4), (0, 4, 4, 4, 4), (4, 4, 4, 4, True), "abc"],
        "lateral": "bool",
        "residual": "bool",
        "attacks": [(), ("bogus",), 3],
        "eps_range": [(0.3, 0.1), (-0.1, 0.3), (NAN, 0.3), 5],
        "include_clean": "bool",
        "learning_rate": "pos_real",
        "min_learning_rate": "pos_real",
        "patience": "pos_int",
        "batch_size": "pos_int",
        "forward_batch_size": "pos_int",
        "seed": "seed?",
        "verbose": "bool",
    }
    audit_params(
        a, "UDDN", lambda **kw: UDDN(**kw), {"classifier": fx["clf"], **tiny}, specs, built=UDDN(fx["clf"], **tiny)
    )

    def clip_takes_effect():
        u = UDDN(fx["clf"], **tiny)
        u(x)
        u.set_params(clip_values=(0.0, 0.5))
        out = u(x * 0.5)[0]
        return None if out.max() <= 0.5 + 1e-6 else f"output reaches {out.max():.3f} > the new clip_values max 0.5"

    a.valid("UDDN.set_params", "clip_values takes effect", clip_takes_effect, check=lambda p: p)

    def widths_takes_effect():
        u = UDDN(fx["clf"], **tiny)
        u.set_params(widths=(3, 3, 3, 3, 3))
        fresh = UDDN(fx["clf"], **{**tiny, "widths": (3, 3, 3, 3, 3)})
        return (
            None
            if u.denoiser_.count_params() == fresh.denoiser_.count_params()
            else "widths changed by set_params but the network was not rebuilt"
        )

    a.valid("UDDN.set_params", "widths takes effect (not fitted)", widths_takes_effect, check=lambda p: p)

    def fitted_widths():
        u = UDDN(fx["clf"], **tiny)
        u.fit(x, y, nb_epochs=1)
        before = state_of(u)
        try:
            u.set_params(widths=(3, 3, 3, 3, 3))
        except ValueError:
            if state_of(u) != before:
                return "refused but changed"
            raise
        fresh = UDDN(fx["clf"], **{**tiny, "widths": (3, 3, 3, 3, 3)})
        return (
            None
            if u.denoiser_.count_params() == fresh.denoiser_.count_params()
            else "widths changed after fit but the network was not rebuilt (save() writes an inconsistent config)"
        )

    a.edge(
        "UDDN.set_params", "widths after fit: refused clearly or rebuilt", fitted_widths, "widths", check=lambda p: p
    )
    audit_persistence(a, "UDDN", uddn, lambda o: o(x)[0], ".keras")

    def run_uddn(seed):
        u = UDDN(fx["clf"], **{**tiny, "seed": seed})
        u.fit(x, y, nb_epochs=1)
        return u(x)[0]

    a.determinism("UDDN", run_uddn)

    # GNR
    noise = (make_data(len(x), 5)[0] - x) * 0.1
    gtiny = {
        "latent_dim": 4,
        "generator_widths": (2, 2, 2),
        "critic_widths": (2, 2, 2),
        "batch_size": 8,
        "n_critic": 2,
        "seed": 0,
    }
    gnr = GNR(**gtiny)
    out = gnr.fit(noise, nb_epochs=1)
    a.valid("GNR.fit", "returns self", lambda: out, check=lambda o: None if o is gnr else f"fit returned {o!r}")
    fit_g = GNR(**gtiny)
    audit_array_entry(
        a,
        "GNR.fit",
        lambda v: fit_g.fit(v, nb_epochs=1),
        noise,
        lambda o, v: None,
        clip=(-1, 1),
        fixed_size=False,
        empty="bad",
        state=lambda: state_of(fit_g),
        names=("noise",),
        ranged=False,
    )
    audit_ints(
        a, "GNR.fit", lambda **kw: fit_g.fit(noise, **kw), {"nb_epochs": "pos_int"}, state=lambda: state_of(fit_g)
    )
    audit_ints(
        a, "GNR.sample", lambda **kw: gnr.sample(**{"n": 2, **kw}), {"n": [-1, True, 2.5, "2", None], "seed": "seed?"}
    )
    specs = {
        "latent_dim": "pos_int",
        "generator_widths": [(4, 4), (0, 4, 4), (4, 4, True), "ab"],
        "critic_widths": [(4, 4), (0, 4, 4), "ab"],
        "gp_weight": "nonneg_real",
        "n_critic": "pos_int",
        "learning_rate": "pos_real",
        "batch_size": "pos_int",
        "seed": "seed?",
        "verbose": "bool",
    }
    audit_params(a, "GNR", lambda **kw: GNR(**kw), gtiny, specs, built=GNR(**gtiny))
    audit_persistence(a, "GNR", gnr, lambda o: o.sample(4, seed=0), ".keras")

    def run_gnr(seed):
        g = GNR(**{**gtiny, "seed": seed})
        g.fit(noise, nb_epochs=1)
        return g.sample(4, seed=0)

    a.determinism("GNR", run_gnr)


def audit_persistence(a: Auditor, name: str, obj: Any, output: Callable[[Any], np.ndarray], extension: str) -> None:
    """save/load round trip, file mode, classmethod load, deepcopy, tampered and foreign files."""
    folder = tempfile.mkdtemp(prefix="art-ext-audit-")
    path = os.path.join(folder, f"{name.lower()}{extension}")
    cls = type(obj)
    reference = output(obj)

    def round_trip():
        obj.save(path)
        loaded = cls.load(path)
        if not isinstance(loaded, cls):
            return f"{cls.__name__}.load returned {type(loaded).__name__}"
        if not np.array_equal(output(loaded), reference):
            return "loaded object's output differs"
        umask = os.umask(0)
        os.umask(umask)
        mode = os.stat(path).st_mode & 0o777
        if mode != 0o666 & ~umask:
            return f"file mode {oct(mode)}, expected {oct(0o666 & ~umask)} (as open() gives)"
        return None

    a.valid(f"{name}.save/load", "round trip bit-identical, classmethod load, file mode", round_trip, check=lambda p: p)
    a.valid(
        f"{name}",
        "deepcopy",
        lambda: output(copy.deepcopy(obj)),
        check=lambda out: None if np.array_equal(out, reference) else "the copy's output differs",
    )
    a.bad(f"{name}.save", "path with the wrong extension", lambda: obj.save(os.path.join(folder, "x.bin")), "path")
    blocker = os.path.join(folder, "a-file")
    open(blocker, "w").close()
    a.bad(
        f"{name}.save",
        "unwritable path",
        lambda: obj.save(os.path.join(blocker, f"x{extension}")),
        ("path", "a-file", "cannot write"),
    )
    leftovers = [f for f in os.listdir(folder) if f.startswith(".tmp")]
    if leftovers:
        a._add(Result(f"{name}.save", "no temporary file left behind", "valid", SILENT, f"left {leftovers}"))
    if not os.path.exists(path):
        return
    data = pathlib.Path(path).read_bytes()
    tampered = {
        "truncated file": data[: len(data) // 2],
        "random bytes": os.urandom(256),
        "empty file": b"",
        "JSON garbage": b"{not json",
    }
    if extension == ".keras":
        with zipfile.ZipFile(path) as src:
            buf_path = os.path.join(folder, "retagged.keras")
            with zipfile.ZipFile(buf_path, "w") as dst:
                for item in src.infolist():
                    content = src.read(item.filename)
                    if (
                        item.filename.endswith(".json")
                        and "art_ext" in item.filename
                        or item.filename in ("uddn_config.json",)
                    ):
                        content = b'{"format": "art-ext", "kind": "Other", "config": {}, "version": 1}'
                    dst.writestr(item, content)
        tampered["metadata of another kind"] = pathlib.Path(buf_path).read_bytes()
        foreign = os.path.join(folder, "classifier.keras")
        tiny_model(K, 0).save(foreign)
        tampered["a plain Keras classifier file"] = pathlib.Path(foreign).read_bytes()
    else:
        tampered["JSON of another kind"] = json.dumps(
            {"format": "art-ext", "kind": "Other", "version": 1, "config": {}}
        ).encode()
        tampered["JSON without art-ext tag"] = json.dumps({"table": [[1] * 8] * 8}).encode()
    for case, content in tampered.items():
        bad_path = os.path.join(folder, f"tampered{extension}")
        with open(bad_path, "wb") as handle:
            handle.write(content)
        a.bad(f"{name}.load", case, lambda p=bad_path: cls.load(p), ("not an art-ext", "tampered", "path"))
    a.bad(
        f"{name}.load",
        "missing file",
        lambda: cls.load(os.path.join(folder, f"missing{extension}")),
        ("missing", "path", "no "),
    )


def audit_edc(a: Auditor, fx: dict, x, y) -> None:
    from art_ext.attacks.evasion import EnsembleDataCorrection

    members = [fx["clf"], fx["clf_b"]]
    tiny = {"max_iter": 3, "binary_search_steps": 1, "batch_size": 16, "verbose": False}
    edc = EnsembleDataCorrection(members, **tiny)
    ref = edc.generate(x, y)
    same = finite_like(lambda v: v.shape, clip=(0, 1))
    audit_array_entry(
        a,
        "EnsembleDataCorrection.generate",
        lambda v: edc.generate(v, y[: len(v)] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) <= len(y) else y),
        x,
        same,
        after=works(lambda: edc.generate(x, y), ref),
    )
    audit_label_entry(a, "EnsembleDataCorrection.generate", lambda v: edc.generate(x, v), y)
    a.bad("EnsembleDataCorrection.generate", "y: None", lambda: edc.generate(x), "y")
    specs = {
        "weights": [[-1.0, 1.0], [0.0, 0.0], [1.0], "ab", [NAN, 1.0]],
        "confidence": "nonneg_real",
        "learning_rate": "pos_real",
        "max_iter": "pos_int",
        "binary_search_steps": "pos_int",
        "initial_const": "pos_real",
        "batch_size": "pos_int",
        "verbose": "bool",
    }
    audit_params(
        a,
        "EnsembleDataCorrection",
        lambda **kw: EnsembleDataCorrection(**kw),
        {"estimators": members, **tiny},
        specs,
        built=EnsembleDataCorrection(members, **tiny),
    )
    a.bad("EnsembleDataCorrection()", "estimators=[]", lambda: EnsembleDataCorrection([]), "estimators")
    a.bad(
        "EnsembleDataCorrection()",
        "estimators of different class counts",
        lambda: EnsembleDataCorrection([fx["clf"], fx["clf2n"]]),
        "estimators",
    )

    for param, value in (("max_iter", 1), ("confidence", 0.5)):

        def takes_effect(p=param, v=value):
            e = EnsembleDataCorrection(members, **tiny)
            e.generate(x, y)
            e.set_params(**{p: v})
            fresh = EnsembleDataCorrection(members, **{**tiny, p: v})
            return (
                None
                if np.array_equal(e.generate(x, y), fresh.generate(x, y))
                else f"{p} set by set_params after a first generate is not used (compiled graph keeps the old value)"
            )

        a.valid(
            "EnsembleDataCorrection.set_params", f"{param} takes effect after generate", takes_effect, check=lambda p: p
        )
    a.determinism(
        "EnsembleDataCorrection",
        lambda seed: EnsembleDataCorrection(members, **tiny).generate(x, y),
        seed_matters=False,
    )


def audit_ltc(a: Auditor, x, y) -> None:
    from art_ext.attacks.poisoning import LearningToConfuse

    surrogate = lambda shape, n: tiny_model(n, 0, tuple(shape))
    tiny = {"eps": 0.1, "surrogate": surrogate, "nb_classes": K, "seed": 0, "verbose": False}
    ltc = LearningToConfuse(**tiny)
    out = ltc.fit(x, y, nb_epochs=1, batch_size=16)
    a.valid(
        "LearningToConfuse.fit",
        "returns self",
        lambda: out,
        check=lambda o: None if o is ltc else f"fit returned {type(o).__name__}",
    )
    ref = ltc.poison(x, y)[0]
    same = finite_like(lambda v: v.shape, clip=(0, 1))
    audit_array_entry(
        a,
        "LearningToConfuse.poison",
        lambda v: ltc.poison(v, y[: len(v)] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) <= len(y) else y),
        x,
        same,
        after=works(lambda: ltc.poison(x, y)[0], ref),
    )
    audit_label_entry(a, "LearningToConfuse.poison", lambda v: ltc.poison(x, v), y)
    audit_ints(a, "LearningToConfuse.poison", lambda **kw: ltc.poison(x, y, **kw), {"batch_size": "pos_int"})
    fit_l = LearningToConfuse(**tiny)
    st = lambda: state_of(fit_l)
    audit_array_entry(
        a,
        "LearningToConfuse.fit",
        lambda v: fit_l.fit(
            v,
            y[: len(v)] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) <= len(y) else y,
            nb_epochs=1,
            batch_size=16,
        ),
        x,
        lambda o, v: None,
        empty="bad",
        state=st,
        valid=False,
        fixed_size=False,
        channels_fixed=False,
    )
    audit_label_entry(
        a, "LearningToConfuse.fit", lambda v: fit_l.fit(x, v, nb_epochs=1, batch_size=16), y, state=st, valid=False
    )
    audit_ints(
        a,
        "LearningToConfuse.fit",
        lambda **kw: fit_l.fit(x, y, **{"nb_epochs": 1, "batch_size": 16, **kw}),
        {"nb_epochs": "pos_int", "batch_size": "pos_int"},
        state=st,
    )
    specs = {
        "eps": [0, -0.1, 2.0, NAN, INF, True, "0.1", None],
        "surrogate": ["no_such_model", 3],
        "generator": [3, "g"],
        "target_fn": [3, "f"],
        "nb_classes": [1, 0, True, 2.5, "3"],
        "clip_values": "clip",
        "victim_learning_rate": "pos_real",
        "generator_learning_rate": "pos_real",
        "unroll_steps": "pos_int",
        "victim_epochs": "pos_int",
        "clean_batch": "option",
        "keep_best": "bool",
        "seed": "seed?",
        "verbose": "bool",
    }
    audit_params(
        a, "LearningToConfuse", lambda **kw: LearningToConfuse(**kw), tiny, specs, built=LearningToConfuse(**tiny)
    )

    def eps_takes_effect():
        ltc.set_params(eps=0.05)
        try:
            distance = np.abs(ltc.poison(x, y)[0] - x).max()
        finally:
            ltc.set_params(eps=0.1)
        return None if distance <= 0.05 + 1e-6 else f"poison moves {distance:.3f} > the new eps 0.05"

    a.valid("LearningToConfuse.set_params", "eps takes effect", eps_takes_effect, check=lambda p: p)
    audit_persistence(a, "LearningToConfuse", ltc, lambda o: o.poison(x, y)[0], ".keras")

    def run(seed):
        attack = LearningToConfuse(**{**tiny, "seed": seed})
        attack.fit(x, y, nb_epochs=1, batch_size=16)
        return attack.poison(x, y)[0]

    a.determinism("LearningToConfuse", run)


def audit_trainers(a: Auditor, fx: dict, x, y) -> None:
    from art_ext.defences.preprocessor import JpegCompressionTensorFlowV2
    from art_ext.defences.trainer import (
        DistillationTrainer,
        MultiLevelJpegTrainer,
        NullLabelingTrainer,
        TwoNLabelingTrainer,
        extend_classes,
    )

    def fitted_weights(clf):
        return lambda: None if all(np.all(np.isfinite(w)) for w in clf.model.get_weights()) else "weights not finite"

    # 2N / NULL labeling
    for cls, outputs in ((TwoNLabelingTrainer, 2 * K), (NullLabelingTrainer, K + 1)):
        name = cls.__name__
        clf = tiny_classifier(outputs, 6, fit=False)
        trainer = cls(clf, seed=0)
        st = lambda c=clf: _digest(c.model)
        fit = lambda v, t=trainer: t.fit(
            v,
            y[: len(v)] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) <= len(y) else y,
            batch_size=16,
            nb_epochs=1,
        )
        audit_array_entry(a, f"{name}.fit", fit, x, lambda o, v, c=clf: fitted_weights(c)(), empty="bad", state=st)
        audit_label_entry(a, f"{name}.fit", lambda v, t=trainer: t.fit(x, v, batch_size=16, nb_epochs=1), y, state=st)
        audit_ints(
            a,
            f"{name}.fit",
            lambda t=trainer, **kw: t.fit(x, y, **{"batch_size": 16, "nb_epochs": 1, **kw}),
            {"batch_size": "pos_int", "nb_epochs": "pos_int"},
            state=st,
        )
        a.valid(
            f"{name}.fit",
            "returns self",
            lambda t=trainer: t.fit(x, y, batch_size=16, nb_epochs=1),
            check=lambda o, t=trainer: None if o is t else f"fit returned {type(o).__name__}",
        )
        specs = {
            "substitute": [3, "s", fx["clf2n"]],
            "eps_max": [0, -0.1, 5.0, NAN, True, "0.3", None],
            "perturbed_fraction": [0, 1.5, NAN, True, "0.5", None],
            "smoothing": [0, 1.5, NAN, True, None],
            "optimizer": [3, "sgd"],
            "learning_rate": "pos_real",
            "momentum": [-0.1, 1.5, NAN, True, None],
            "cosine_annealing": "bool",
            "validation_split": [-0.1, 1.0, NAN, True, None],
            "patience": "pos_int",
            "seed": "seed?",
            "verbose": "bool",
        }
        audit_params(a, name, lambda c=cls, **kw: c(**kw), {"classifier": clf}, specs, built=cls(clf))
        if cls is TwoNLabelingTrainer:  # any model with 3 or more outputs is a valid N + 1 (NULL labeling) one
            a.bad(
                f"{name}()",
                "classifier with N outputs (not extended)",
                lambda c=cls: c(tiny_classifier(K, 0, fit=False)),
                ("classifier", "extend_classes"),
            )

        def run(seed, c=cls, n=outputs):
            t = c(tiny_classifier(n, 6, fit=False), seed=seed)
            t.fit(x, y, batch_size=16, nb_epochs=1)
            return t.get_classifier().model

        a.determinism(name, run)
    four = tiny_classifier(4, 0, fit=False)
    a.bad(
        "TwoNLabelingTrainer.fit",
        "a plain 4-class classifier taken as 2N with N=2 (labels 0-3)",
        lambda: TwoNLabelingTrainer(four).fit(x, np.arange(len(x)) % 4, batch_size=16, nb_epochs=1),
        ("extend_classes", "2N", "classifier"),
    )
    model = tiny_model(K, 0)
    a.valid(
        "extend_classes",
        "2n",
        lambda: extend_classes(model, "2n"),
        check=lambda m: None if m.output_shape[-1] == 2 * K else f"{m.output_shape}",
    )
    for case, args in (
        ("model=3", (3,)),
        ("kind='bogus'", (model, "bogus")),
        ("keep_weights='yes'", (model, "2n", "yes")),
    ):
        a.bad("extend_classes", case, lambda args=args: extend_classes(*args), ("model", "kind", "keep_weights"))

    # distillation
    student = tiny_classifier(K, 7, fit=False)
    dist = DistillationTrainer(student, nb_epochs=1, batch_size=16, seed=0)
    st = lambda: _digest(student.model)
    fit = lambda v: dist.fit(v, y[: len(v)] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) <= len(y) else y)
    audit_array_entry(
        a, "DistillationTrainer.fit", fit, x, lambda o, v: fitted_weights(student)(), empty="bad", state=st, valid=False
    )
    audit_label_entry(a, "DistillationTrainer.fit", lambda v: dist.fit(x, v), y, state=st, valid=False)
    a.valid(
        "DistillationTrainer.fit",
        "returns self",
        lambda: dist.fit(x, y),
        check=lambda o: None if o is dist else f"fit returned {type(o).__name__}",
    )
    specs = {
        "teacher": [3, "t"],
        "preprocessor": [3],
        "temperature": [0.5, 0, -1, NAN, INF, True, "10", None],
        "lambda_": "nonneg_real",
        "nb_epochs": "pos_int",
        "teacher_epochs": [-1, True, 2.5, "1"],
        "batch_size": "pos_int",
        "learning_rate": "pos_real",
        "seed": "seed?",
        "verbose": "bool",
    }
    audit_params(
        a,
        "DistillationTrainer",
        lambda **kw: DistillationTrainer(**kw),
        {"classifier": student},
        specs,
        built=DistillationTrainer(student),
    )

    def run_dist(seed):
        s = tiny_classifier(K, 7, fit=False)
        DistillationTrainer(s, nb_epochs=1, batch_size=16, seed=seed).fit(x, y)
        return s.model

    a.determinism("DistillationTrainer", run_dist)

    # multi-level JPEG
    def jpegs():
        return [JpegCompressionTensorFlowV2(quality=q) for q in (30, 70)]

    mlj = MultiLevelJpegTrainer(fx["clf"], jpegs(), nb_epochs=1, batch_size=16)
    st = lambda: state_of(mlj)
    fit = lambda v: mlj.fit(v, y[: len(v)] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) <= len(y) else y)
    audit_array_entry(
        a,
        "MultiLevelJpegTrainer.fit",
        fit,
        x,
        lambda o, v: None,
        empty="bad",
        state=lambda: _digest(fx["clf"].model),
        valid=False,
    )
    audit_label_entry(a, "MultiLevelJpegTrainer.fit", lambda v: mlj.fit(x, v), y, valid=False)
    a.valid(
        "MultiLevelJpegTrainer.fit",
        "returns self",
        lambda: mlj.fit(x, y),
        check=lambda o: None if o is mlj else f"fit returned {type(o).__name__}",
    )
    specs = {
        "preprocessors": [[], [3], None, "jpeg"],
        "nb_epochs": "pos_int",
        "batch_size": "pos_int",
        "learning_rate": "pos_real",
        "clean_fraction": [-0.1, 1.0, NAN, True, "0", None],
        "verbose": "bool",
    }
    if "seed" in inspect.signature(MultiLevelJpegTrainer).parameters:
        specs["seed"] = "seed?"
    audit_params(
        a,
        "MultiLevelJpegTrainer",
        lambda **kw: MultiLevelJpegTrainer(**kw),
        {"classifier": fx["clf"], "preprocessors": jpegs()},
        specs,
        built=mlj,
    )
    del st

    def run_mlj(seed):
        kwargs = {"seed": seed} if "seed" in inspect.signature(MultiLevelJpegTrainer).parameters else {}
        t = MultiLevelJpegTrainer(fx["clf"], jpegs(), nb_epochs=1, batch_size=16, clean_fraction=0.5, **kwargs)
        t.fit(x, y)
        return [c.model for c in t.classifiers_]

    a.determinism(
        "MultiLevelJpegTrainer", run_mlj, seed_matters="seed" in inspect.signature(MultiLevelJpegTrainer).parameters
    )
    if "seed" not in inspect.signature(MultiLevelJpegTrainer).parameters:
        a._add(
            Result(
                "MultiLevelJpegTrainer()",
                "has a seed parameter",
                "valid",
                SILENT,
                "no seed: clean_fraction's draws and the fine-tuning cannot be seeded",
                determinism=True,
            )
        )


def audit_data_models_metrics(a: Auditor) -> None:
    from art_ext.data import available_sources, load_dataset
    from art_ext.metrics import (
        accuracy_after_filtering,
        constant_accuracy_ratio,
        distortion_norms,
        filtering_accuracy,
        filtering_helps,
        sensitivity,
        summarize,
        transferability,
    )
    from art_ext.models import get_model, list_models

    folder = tempfile.mkdtemp(prefix="art-ext-audit-data-")

    def npz(name, **arrays):
        path = os.path.join(folder, name)
        base = {
            "x_train": np.zeros((4, 8, 8), np.uint8),
            "y_train": np.arange(4),
            "x_test": np.zeros((2, 8, 8), np.uint8),
            "y_test": np.arange(2),
        }
        np.savez(path, **{**base, **arrays})
        return path

    above = np.full((4, 28, 28), 0.5, np.float32)
    above[0, 0, 0] = 1.0001
    path = npz("above.npz", x_train=above)
    a.edge(
        "load_dataset",
        "float .npz images slightly above 1",
        lambda: load_dataset("mnist", source="npz", path=path),
        ("x_train", "x", "range", "[0, 1]"),
        check=lambda out: None if out[0].max() > 0.9 else f"images divided by 255 (max {out[0].max():.4f})",
    )
    path = npz("uint8.npz", x_train=np.full((4, 28, 28), 255, np.uint8))
    a.valid(
        "load_dataset",
        "uint8 .npz scaled to [0, 1]",
        lambda: load_dataset("mnist", source="npz", path=path),
        check=lambda out: None if out[0].dtype == np.float32 and out[0].max() == 1.0 else "not scaled to [0, 1]",
    )
    nan = np.full((4, 28, 28), 0.5, np.float32)
    nan[0, 0, 0] = NAN
    for case, arrays, names in (
        ("NaN images", {"x_train": nan}, ("x_train", "NaN")),
        ("string labels", {"y_train": np.array(["a", "b", "c", "d"])}, ("y_train",)),
        ("labels of the wrong length", {"y_train": np.arange(3)}, ("y_train",)),
        ("negative float images", {"x_train": -np.ones((4, 28, 28), np.float32)}, ("x_train", "range")),
    ):
        p = npz(case.replace(" ", "_") + ".npz", **{"x_train": np.zeros((4, 28, 28), np.uint8), **arrays})
        a.bad("load_dataset", case, lambda p=p: load_dataset("mnist", source="npz", path=p), names)
    missing_key = os.path.join(folder, "nokey.npz")
    np.savez(missing_key, x_train=np.zeros((4, 28, 28), np.uint8))
    a.bad(
        "load_dataset",
        "npz without y_train",
        lambda: load_dataset("mnist", source="npz", path=missing_key),
        ("y_train",),
    )
    a.bad(
        "load_dataset",
        "npz path missing",
        lambda: load_dataset("mnist", source="npz", path=os.path.join(folder, "none.npz")),
        ("path", "none.npz"),
    )
    garbage = os.path.join(folder, "garbage.npz")
    pathlib.Path(garbage).write_bytes(b"not a zip")
    a.bad(
        "load_dataset",
        "npz file that is not an archive",
        lambda: load_dataset("mnist", source="npz", path=garbage),
        ("path", "garbage.npz"),
    )
    for param, value in (("name", "nope"), ("name", 3), ("split", "val"), ("source", "web"), ("split", None)):
        a.bad(
            "load_dataset",
            f"{param}={value!r}",
            lambda p=param, v=value: load_dataset(**{"name": "mnist", p: v}),
            (param, "data set") if param == "name" else param,
        )

    a.valid(
        "get_model",
        "valid",
        lambda: get_model("simple_mlp", (8, 8, 1), 3),
        check=lambda m: None if m.output_shape[-1] == 3 else "wrong output",
    )
    for param, value in (
        ("name", "nope"),
        ("name", 3),
        ("nb_classes", 0),
        ("nb_classes", 1),
        ("nb_classes", True),
        ("nb_classes", 2.5),
        ("nb_classes", "3"),
        ("input_shape", (0, 8, 1)),
        ("input_shape", "ab"),
        ("input_shape", (8,)),
    ):
        args = {"name": "simple_mlp", "input_shape": (8, 8, 1), "nb_classes": 3, param: value}
        a.bad(
            "get_model",
            f"{param}={value!r}",
            lambda args=args: get_model(**args),
            (param, "model") if param == "name" else param,
        )

    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype(np.float32)
    for case, (u, v), names in (
        ("shape mismatch", (x, x[:3]), ("x", "x_adv")),
        ("NaN", (x, _with(x, NAN)), ("x_adv",)),
        ("strings", (x.astype(str), x), ("x",)),
    ):
        a.bad("distortion_norms", case, lambda u=u, v=v: distortion_norms(u, v), names)
    yt, yp = np.array([0, 1, 2, 1]), np.array([0, 1, 1, 1])
    rej = np.array([False, True, False, False])
    for case, args, names in (
        ("length mismatch", (yt, yp[:3], rej), ("y_true", "y_pred")),
        ("rejected not boolean", (yt, yp, np.array([0, 2, 0, 0])), ("rejected",)),
        ("labels strings", (yt.astype(str), yp, rej), ("y_true",)),
    ):
        a.bad("filtering_accuracy", case, lambda args=args: filtering_accuracy(*args), names)
    a.bad("transferability", "length mismatch", lambda: transferability(yt, yp[:3], yp), ("pred_substitute", "y_true"))
    a.bad("sensitivity", "length mismatch", lambda: sensitivity([0.1, 0.2], [0.5]), ("eps", "accuracy"))
    a.bad("sensitivity", "NaN", lambda: sensitivity([0.1, NAN], [0.5, 0.4]), ("eps",))
    a.valid(
        "summarize", "valid", lambda: summarize(np.arange(4.0)), check=lambda d: None if d["mean"] == 1.5 else f"{d}"
    )
    a.bad("summarize", "strings", lambda: summarize(np.array(["a", "b"])), ("values",))
    a.bad("summarize", "NaN", lambda: summarize(np.array([1.0, NAN])), ("values",))
    rates = {"p_attack": 0.5, "acc_clean": 0.9, "acc_attacked": 0.1, "clean_pass_rate": 0.95, "attacked_pass_rate": 0.2}
    a.valid(
        "accuracy_after_filtering",
        "valid",
        lambda: accuracy_after_filtering(**rates),
        check=lambda v: None if 0 <= v <= 1 else f"{v}",
    )
    a.valid(
        "filtering_helps", "valid", lambda: filtering_helps(0.95, 0.2), check=lambda v: None if v is True else f"{v}"
    )
    a.valid(
        "constant_accuracy_ratio",
        "valid",
        lambda: constant_accuracy_ratio(**rates, r_z=0.5),
        check=lambda v: None if np.isfinite(v) else f"{v}",
    )
    for param, value in (("p_attack", 1.5), ("acc_clean", NAN), ("clean_pass_rate", -0.1), ("attacked_pass_rate", "x")):
        a.bad(
            "accuracy_after_filtering",
            f"{param}={value!r}",
            lambda p=param, v=value: accuracy_after_filtering(**{**rates, p: v}),
            param,
        )
        a.bad(
            "constant_accuracy_ratio",
            f"{param}={value!r}",
            lambda p=param, v=value: constant_accuracy_ratio(**{**rates, p: v}, r_z=0.5),
            param,
        )
    for param, value in (("clean_pass_rate", 1.5), ("attacked_pass_rate", NAN), ("p_attack", -1.0)):
        a.bad(
            "filtering_helps",
            f"{param}={value!r}",
            lambda p=param, v=value: filtering_helps(**{"clean_pass_rate": 0.9, "attacked_pass_rate": 0.2, p: v}),
            param,
        )
    a.valid("list_models", "valid", list_models, check=lambda names: None if "simple_cnn" in names else "incomplete")
    a.valid(
        "available_sources",
        "mnist",
        lambda: available_sources("mnist"),
        check=lambda d: None if set(d) >= {"embedded"} else f"{d}",
    )
    a.bad("available_sources", "name='nope'", lambda: available_sources("nope"), ("name", "data set"))


def audit_cli(a: Auditor) -> None:
    """The ``art-ext`` command as a subprocess: user errors exit 2 with one line, no traceback."""
    folder = tempfile.mkdtemp(prefix="art-ext-audit-cli-")
    blocker = os.path.join(folder, "a-file")
    open(blocker, "w").close()
    missing = os.path.join(folder, "no-such-dir")
    base_env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    base_env.pop("ART_EXT_DATA_DIR", None)
    cases = [
        ("demo --seed -1", ["demo", "--scale", "smoke", "--seed", "-1", "--out", folder + "/o1"], {}),
        ("demo --seed abc", ["demo", "--seed", "abc"], {}),
        ("demo --seed 2**32", ["demo", "--scale", "smoke", "--seed", str(2**32), "--out", folder + "/o2"], {}),
        ("demo --scale huge", ["demo", "--scale", "huge"], {}),
        ("reproduce nope", ["reproduce", "nope"], {}),
        (
            "reproduce two-n-labeling --dataset cifar10 (not an option there)",
            ["reproduce", "two-n-labeling", "--scale", "smoke", "--dataset", "cifar10", "--out", folder + "/o3"],
            {},
        ),
        (
            "demo --out under a regular file (unwritable)",
            ["demo", "--scale", "smoke", "--out", os.path.join(blocker, "out")],
            {},
        ),
        (
            "reproduce uddn --dataset cifar10 with ART_EXT_DATA_DIR missing",
            ["reproduce", "uddn", "--scale", "smoke", "--dataset", "cifar10", "--out", folder + "/o4"],
            {"ART_EXT_DATA_DIR": missing},
        ),
        ("no command", [], {}),
    ]
    for case, argv, env in cases:
        if not a._wanted("art-ext " + case):
            continue
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "art_ext.cli", *argv],
                capture_output=True,
                text=True,
                check=False,
                env={**base_env, **env},
                cwd=folder,
                timeout=240,
            )
            code, err, out = proc.returncode, proc.stderr, proc.stdout
        except subprocess.TimeoutExpired:
            code, err, out = None, "timeout", ""
        seconds = time.perf_counter() - start
        text = err + out
        problems = []
        if code != 2:
            problems.append(f"exit status {code}")
        if "Traceback" in text:
            problems.append("traceback printed")
        lines = [
            ln
            for ln in err.strip().splitlines()
            if ln.strip() and "warn" not in ln.lower() and not ln.startswith(("WARNING", "I0000", "E0000", "W0000"))
        ]
        outcome = CLEAR if not problems else (SILENT if code == 0 else UNCLEAR)
        detail = "; ".join(problems) + (" | " if problems else "") + (lines[-1] if lines else "(no message)")
        a._add(
            Result(
                "art-ext " + case,
                "user error: exit 2, one line, no traceback",
                "cli",
                outcome,
                detail[:600],
                round(seconds, 2),
            )
        )
    if a._wanted("art-ext data"):
        proc = subprocess.run(
            [sys.executable, "-m", "art_ext.cli", "data"],
            capture_output=True,
            text=True,
            check=False,
            env={**base_env, "ART_EXT_DATA_DIR": missing},
            cwd=folder,
            timeout=240,
        )
        text = proc.stdout + proc.stderr
        said = missing in text and re.search(
            r"not exist|not an existing|missing|no such|not found|not a (folder|directory)", text, re.IGNORECASE
        )
        a._add(
            Result(
                "art-ext data",
                "ART_EXT_DATA_DIR set to a missing folder is reported",
                "cli",
                OK if said and "Traceback" not in text else SILENT,
                "" if said else f"exit {proc.returncode}, the missing folder is not reported",
            )
        )
        proc = subprocess.run(
            [sys.executable, "-m", "art_ext.cli", "--version"],
            capture_output=True,
            text=True,
            check=False,
            env=base_env,
            cwd=folder,
            timeout=240,
        )
        a._add(
            Result(
                "art-ext --version",
                "valid",
                "valid",
                OK if proc.returncode == 0 else UNCLEAR,
                proc.stderr.strip()[-300:],
            )
        )


# ---------------------------------------------------------------------------------------------- report


def public_api() -> dict[str, list[str]]:
    api = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        api[module_name] = sorted(getattr(module, "__all__", []))
    return api


def summarize(results: list[Result], api: dict[str, list[str]], seconds: float) -> dict:
    bad = [r for r in results if r.kind == "bad"]
    clear = [r for r in bad if r.outcome == CLEAR]
    cli = [r for r in results if r.kind == "cli"]
    cli_user = [r for r in cli if r.case.startswith("user error")]
    entries = {r.entry for r in results}
    covered, uncovered = [], []
    for module_name, names in api.items():
        module = importlib.import_module(module_name)
        for name in names:
            if not callable(getattr(module, name)):
                continue  # constants (``DATASETS``, ``REJECTED``, ...) are not entry points
            hit = any(re.match(re.escape(name) + r"(\W|$)", e) for e in entries)
            (covered if hit else uncovered).append(f"{module_name}.{name}")
    counts = {o: sum(r.outcome == o for r in results) for o in (CLEAR, UNCLEAR, SILENT, OK)}
    return {
        "cases": len(results),
        "outcomes": counts,
        "bad_inputs": len(bad),
        "bad_inputs_clear": len(clear),
        "clear_error_rate": round(100.0 * len(clear) / len(bad), 1) if bad else None,
        "silent_wrong": sum(r.outcome == SILENT for r in results),
        "unclear_errors": sum(r.outcome == UNCLEAR for r in results),
        "mutations": sum(r.mutated for r in results),
        "determinism_checks": sum(r.determinism for r in results),
        "determinism_failures": sum(r.determinism and r.outcome != OK for r in results),
        "cli_user_errors": len(cli_user),
        "cli_user_errors_exit_2_no_traceback": sum(r.outcome == CLEAR for r in cli_user),
        "slowest_clear_error_seconds": max((r.seconds for r in clear), default=0.0),
        "public_names_covered": len(covered),
        "public_names_uncovered": uncovered,
        "seconds": round(seconds, 1),
    }


def markdown(summary: dict, results: list[Result], command: str) -> str:
    s = summary
    lines = [
        "# art-ext contract audit",
        "",
        f"Command: `{command}`",
        "",
        "| figure | value |",
        "|---|---|",
        f"| cases | {s['cases']} |",
        (
            f"| bad inputs rejected with a clear error naming the argument | {s['bad_inputs_clear']} / "
            f"{s['bad_inputs']} = {s['clear_error_rate']}% |"
        ),
        f"| silent wrong results | {s['silent_wrong']} |",
        f"| unclear errors | {s['unclear_errors']} |",
        f"| inputs mutated | {s['mutations']} |",
        f"| determinism checks failed | {s['determinism_failures']} / {s['determinism_checks']} |",
        (
            f"| CLI user errors exiting 2 without a traceback | {s['cli_user_errors_exit_2_no_traceback']} / "
            f"{s['cli_user_errors']} |"
        ),
        (
            f"| public names covered | {s['public_names_covered']} (uncovered: "
            f"{', '.join(s['public_names_uncovered']) or 'none'}) |"
        ),
        f"| run time | {s['seconds']} s |",
        "",
    ]
    for title, outcome in (("Silent wrong results", SILENT), ("Unclear errors", UNCLEAR)):
        found = [r for r in results if r.outcome == outcome]
        lines += [f"## {title} ({len(found)})", ""]
        lines += [f"- `{r.entry}` -- {r.case}: {r.detail}" for r in found] or ["none"]
        lines.append("")
    mutated = [r for r in results if r.mutated]
    lines += [f"## Mutated inputs ({len(mutated)})", ""]
    lines += [f"- `{r.entry}` -- {r.case}" for r in mutated] or ["none"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for audit.json and audit.md")
    parser.add_argument("--only", default=None, help="regular expression: audit only matching entry points")
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line cases (subprocesses)")
    parser.add_argument("--verbose", action="store_true", help="print every case, not only the findings")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    a = Auditor(args.only, args.verbose)
    x, y = make_data(24, seed=11)
    sections = [("classifiers", lambda: audit_classifiers(a, x, y))]
    fx: dict = {}

    def run_section(title, fn):
        print(f"== {title}", flush=True)
        t = time.perf_counter()
        try:
            result = fn()
        except Exception as err:  # noqa: BLE001 - a section that cannot even set up is itself a finding
            a._add(Result(title, "set-up of the section", "valid", UNCLEAR, f"{type(err).__name__}: {err}"))
            traceback.print_exc()
            result = None
        print(f"   {time.perf_counter() - t:.1f} s", flush=True)
        return result

    fx = run_section(*sections[0]) or {}
    if fx:
        run_section("detectors", lambda: audit_detectors(a, fx, x))
        run_section("EnsembleDataCorrection", lambda: audit_edc(a, fx, x, y))
        run_section("UDDN and GNR", lambda: audit_uddn_gnr(a, fx, x, y))
        run_section("trainers", lambda: audit_trainers(a, fx, x, y))
    run_section("JPEG", lambda: audit_jpeg(a, x))
    run_section("LearningToConfuse", lambda: audit_ltc(a, x, y))
    run_section("data, models, metrics", lambda: audit_data_models_metrics(a))
    if not args.no_cli:
        run_section("CLI", lambda: audit_cli(a))
    summary = summarize(a.results, public_api(), time.perf_counter() - start)
    command = "python benchmarks/audit.py " + " ".join(argv if argv is not None else sys.argv[1:])
    with open(os.path.join(args.out, "audit.json"), "w") as handle:
        json.dump({"command": command, "summary": summary, "results": [asdict(r) for r in a.results]}, handle, indent=1)
    with open(os.path.join(args.out, "audit.md"), "w") as handle:
        handle.write(markdown(summary, a.results, command))
    print(json.dumps({k: v for k, v in summary.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
