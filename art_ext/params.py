"""Declarative parameter validation and ``set_params`` semantics shared by every public class.

Each class lists its public parameters with their constraints in one place,
``_parameter_constraints`` (the idea of scikit-learn's estimator guide), and inherits from
:class:`ValidatedParams`:

.. code-block:: python

    class MyAttack(ValidatedParams, EvasionAttack):
        attack_params = EvasionAttack.attack_params + ["eps", "max_iter", "seed"]
        _parameter_constraints = {
            "eps": [Interval(Real, 0, None, closed="neither")],
            "max_iter": [POSITIVE_INT],
            "seed": [SEED],
        }

``_check_params`` then validates every listed parameter with an error that names the class, the
parameter, what it accepts and what it got; :meth:`ValidatedParams.set_params` rejects unknown
keys, validates atomically (the object is unchanged when it raises) and calls
:meth:`ValidatedParams._params_changed`, where a class rebuilds what depends on the new values
(compiled functions, networks) or refuses a change that cannot take effect.

A constraint is one of: ``None`` (the value ``None``), a type (``isinstance``), a :class:`Constraint`
(:class:`Interval`, :class:`Options`, :class:`Boolean`, :class:`Pair`, :class:`ClipValues`,
:class:`Callable`, :class:`ArrayLike`), or a ``set`` of allowed values. A value passes when it meets any
constraint of its list.
"""

from __future__ import annotations

import abc
import contextlib
import math
import random
from collections.abc import Iterable, Iterator
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "Constraint",
    "Interval",
    "Options",
    "Boolean",
    "Pair",
    "ClipValues",
    "Callable",
    "ArrayLike",
    "InstanceOf",
    "validate_params",
    "ValidatedParams",
    "seeded",
    "POSITIVE_INT",
    "NON_NEGATIVE_INT",
    "POSITIVE_REAL",
    "NON_NEGATIVE_REAL",
    "UNIT_INTERVAL",
    "SEED",
    "BOOL",
    "Integral",
    "Real",
]


class Constraint(abc.ABC):
    """A condition a parameter value must meet; ``str()`` says in words what it accepts."""

    @abc.abstractmethod
    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` meets the condition."""

    @abc.abstractmethod
    def __str__(self) -> str:
        """What the condition accepts, in words (completes "x must be ...")."""


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


class Interval(Constraint):
    """A real or integral number (never a bool, never NaN or infinite) in an interval.

    :param kind: ``numbers.Integral`` (integers only) or ``numbers.Real`` (integers or floats).
    :param left: Lower bound, or ``None`` for unbounded.
    :param right: Upper bound, or ``None`` for unbounded.
    :param closed: Which bounds belong to the interval: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
    """

    def __init__(self, kind: type, left: float | None, right: float | None, closed: str = "both"):
        if kind not in (Integral, Real):
            raise ValueError(f"kind must be numbers.Integral or numbers.Real, got {kind!r}")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got {closed!r}")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def is_satisfied_by(self, value: Any) -> bool:
        if _is_bool(value) or not isinstance(value, self.kind):
            return False
        if not math.isfinite(float(value)):
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        what = "an integer" if self.kind is Integral else "a finite number"
        if self.left is None and self.right is None:
            return what
        lo = "-inf" if self.left is None else f"{self.left:g}"
        hi = "inf" if self.right is None else f"{self.right:g}"
        opening = "[" if self.closed in ("both", "left") and self.left is not None else "("
        closing = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{what} in {opening}{lo}, {hi}{closing}"


class Options(Constraint):
    """One of a set of values (compared with ``==``; a bool never stands in for 0 or 1)."""

    def __init__(self, options: Iterable[Any]):
        self.options = tuple(options)

    def is_satisfied_by(self, value: Any) -> bool:
        try:
            return any(
                value == option and _is_bool(value) == _is_bool(option) and type(value) is not np.ndarray
                for option in self.options
            )
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


class InstanceOf(Constraint):
    """An instance of any of the given types (a bool is not accepted as an ``int``)."""

    def __init__(self, *types: type):
        self.types = types

    def is_satisfied_by(self, value: Any) -> bool:
        if _is_bool(value) and bool not in self.types and np.bool_ not in self.types:
            return False
        return isinstance(value, self.types)

    def __str__(self) -> str:
        names = [t.__name__ for t in self.types]
        return ("an instance of " + " or ".join(names)) if names else "nothing"


class Boolean(Constraint):
    """``True`` or ``False`` (Python or NumPy bool; not 0 or 1)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return _is_bool(value)

    def __str__(self) -> str:
        return "a bool"


class Callable(Constraint):
    """Any callable."""

    def is_satisfied_by(self, value: Any) -> bool:
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


class Pair(Constraint):
    """A sequence of ``length`` items each meeting ``item`` (default: two finite numbers), optionally
    non-decreasing (``ordered=True``: ``a <= b <= ...``)."""

    def __init__(self, item: Constraint | None = None, length: int = 2, ordered: bool = False):
        self.item, self.length, self.ordered = item or Interval(Real, None, None), length, ordered

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)):
            return False
        items = list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else list(value)
        if len(items) != self.length or not all(self.item.is_satisfied_by(v) for v in items):
            return False
        return not self.ordered or all(a <= b for a, b in zip(items, items[1:]))

    def __str__(self) -> str:
        order = " in non-decreasing order" if self.ordered else ""
        return f"a sequence of {self.length} items, each {self.item}{order}"


class ClipValues(Constraint):
    """``(min, max)``: two finite numbers with ``min < max``."""

    def is_satisfied_by(self, value: Any) -> bool:
        if not Pair().is_satisfied_by(value):
            return False
        lo, hi = (float(v) for v in value)
        return lo < hi

    def __str__(self) -> str:
        return "a pair (min, max) of finite numbers with min < max"


class ArrayLike(Constraint):
    """A NumPy array (or list/tuple convertible to one) of finite real numbers, optionally of a given ``ndim``."""

    def __init__(self, ndim: int | None = None):
        self.ndim = ndim

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (str, bytes)) or not isinstance(value, (np.ndarray, list, tuple)):
            return False
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return (self.ndim is None or array.ndim == self.ndim) and bool(np.all(np.isfinite(array)))

    def __str__(self) -> str:
        dims = f" with {self.ndim} dimension(s)" if self.ndim is not None else ""
        return f"an array of finite numbers{dims}"


class _NoneConstraint(Constraint):
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


#: Named constraints used across the package.
POSITIVE_INT = Interval(Integral, 1, None)
NON_NEGATIVE_INT = Interval(Integral, 0, None)
POSITIVE_REAL = Interval(Real, 0, None, closed="neither")
NON_NEGATIVE_REAL = Interval(Real, 0, None)
UNIT_INTERVAL = Interval(Real, 0, 1)
SEED = Interval(Integral, 0, 2**32 - 1)
BOOL = Boolean()


def _as_constraint(spec: Any) -> Constraint:
    if spec is None:
        return _NoneConstraint()
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, type):
        return InstanceOf(spec)
    if isinstance(spec, (set, frozenset)):
        return Options(sorted(spec, key=repr))
    raise TypeError(f"not a parameter constraint: {spec!r}")


def validate_params(constraints: dict[str, list], params: dict[str, Any], caller: str = "") -> None:
    """Check each value of ``params`` against its constraints; parameters without constraints are not checked.

    :param constraints: ``{name: [constraint, ...]}``; a value passes if it meets any constraint of its list.
    :param params: ``{name: value}`` to check.
    :param caller: Prefix of the error message (a class or function name).
    :raises ValueError: Naming the first parameter that meets none of its constraints, what it accepts and the value.
    """
    prefix = f"{caller}: " if caller else ""
    for name, value in params.items():
        if name not in constraints:
            continue
        options = [_as_constraint(c) for c in constraints[name]]
        if any(c.is_satisfied_by(value) for c in options):
            continue
        accepted = options[0] if len(options) == 1 else ", or ".join(str(c) for c in options)
        raise ValueError(f"{prefix}{name} must be {accepted}, got {_short_repr(value)}")


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, np.ndarray) else f"array of shape {value.shape}, dtype {value.dtype}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ValidatedParams:
    """Mixin giving a class declarative validation and atomic ``set_params``; put it before the ART base class.

    Subclasses set ``_parameter_constraints`` and may override :meth:`_check_param_relations` (checks across
    parameters, and normalisation such as turning a list into a tuple) and :meth:`_params_changed` (rebuild what
    depends on changed parameters, or raise ``ValueError`` to refuse them: the change is then rolled back).
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {}

    def _param_names(self) -> list[str]:
        """The public parameters, in ART's own list (``attack_params``, ``params`` or ``defence_params``)."""
        for attribute in ("attack_params", "defence_params", "params"):
            names = getattr(type(self), attribute, None)
            if names:
                return list(names)
        return list(self._parameter_constraints)

    def _check_params(self) -> None:
        names = [n for n in self._parameter_constraints if hasattr(self, n)]
        validate_params(self._parameter_constraints, {n: getattr(self, n) for n in names}, type(self).__name__)
        self._check_param_relations()

    def _check_param_relations(self) -> None:
        """Checks that involve several parameters; raise ``ValueError`` naming them."""

    def _params_changed(self, changed: set[str]) -> None:
        """Called by :meth:`set_params` after validation with the names that were set."""

    def get_params(self) -> dict[str, Any]:
        """The public parameters and their current values."""
        return {name: getattr(self, name) for name in self._param_names() if hasattr(self, name)}

    def set_params(self, **kwargs: Any) -> None:
        """
        Set public parameters; they take effect on the next call.

        Validation is atomic: when any value is invalid (or a change cannot take effect), a ``ValueError`` is raised
        and every parameter keeps its previous value.

        :param kwargs: Parameter names and new values.
        :raises ValueError: An unknown parameter name, an invalid value, or a change refused by the class.
        """
        names = self._param_names()
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.set_params: unknown parameter(s) {unknown}; the parameters are {names}"
            )
        old = dict(self.__dict__)
        try:
            for key, value in kwargs.items():
                setattr(self, key, value)
            self._check_params()
            self._params_changed(set(kwargs))
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(old)
            raise


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Make Keras layer and initialiser construction deterministic under ``seed`` without touching global RNG state.

    Keras 3 draws the default seeds of initialisers, dropout and other random layers from Python's ``random``
    module when they are built; inside this context that module is seeded with ``seed`` and its previous state is
    restored on exit. NumPy's and TensorFlow's global generators are not used or changed. ``seed=None`` does
    nothing (Keras's usual randomness).
    """
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(int(seed))
    try:
        yield
    finally:
        random.setstate(state)
