import numpy as np
import pytest
import tensorflow as tf

from art_ext.utils import (
    HostStaging,
    batches,
    check_clip_values,
    check_finite_tensor,
    check_inputs,
    check_labels,
    fgsm,
    from_tanh_space,
    iterative_fgsm,
    to_tanh_space,
)


def test_check_inputs_accepts_and_does_not_modify():
    x = np.full((2, 3), 0.5, np.float64)
    out = check_inputs(x, clip_values=(0, 1), input_shape=(3,))
    assert out.dtype == np.float32 and x.dtype == np.float64


@pytest.mark.parametrize(
    "x, kwargs, match",
    [
        (np.zeros(3), {}, "batch"),
        (np.zeros((2, 3)), dict(input_shape=(4,)), "shape"),
        (np.array([[np.nan]]), {}, "NaN"),
        (np.array([[2.0]]), dict(clip_values=(0, 1)), "clip_values"),
        (np.array([["a"]]), {}, "numeric"),
        (np.zeros((0, 3)), {}, "at least"),
    ],
)
def test_check_inputs_errors(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_inputs(x, **kwargs)


def test_check_labels():
    np.testing.assert_array_equal(check_labels(np.eye(3)[[2, 0]], 2, 3), [2, 0])
    for y, match in [
        (None, "required"),
        (np.array([0, 3]), "lie in"),
        (np.array([0]), "1 labels"),
        (np.array([0.5, 1]), "integer"),
        (np.zeros((2, 4)), "columns"),
    ]:
        with pytest.raises(ValueError, match=match):
            check_labels(y, 2, 3)


@pytest.mark.parametrize(
    "y",
    [
        np.array([[0, 0, 1], [0, 0, 0]]),  # an all-zero row (was read as class 0)
        np.array([[0, 1, 1], [1, 0, 0]]),  # two ones
        np.array([[0, 0, 1], [-1, 0, 2]]),  # negative entry, argmax 2
        np.array([[0.1, 0.8, 0.1], [1, 0, 0]]),  # soft labels are not one-hot
        np.array([[0, 0, np.nan], [1, 0, 0]]),
    ],
)
def test_check_labels_rejects_rows_that_are_not_one_hot(y):
    with pytest.raises(ValueError, match="y must be one-hot"):
        check_labels(y, 2, 3)


@pytest.mark.parametrize(
    "y",
    [
        np.array(["cat", "dog"]),
        np.array([b"0", b"1"]),
        np.array([0, None], dtype=object),
        ["0", "1"],
        np.array([1 + 0j, 0j]),
    ],
)
def test_check_labels_rejects_non_numeric_labels_naming_the_argument(y):
    with pytest.raises(ValueError, match="y_val must hold numeric class indices"):
        check_labels(y, 2, 3, name="y_val")


def test_check_labels_accepted_forms_and_no_mutation():
    y = np.eye(3, dtype=np.float32)[[1, 2]]
    before = y.copy()
    for labels in (y, y.astype(bool), np.array([1, 2]), np.array([1.0, 2.0]), np.array([[1], [2]]), [1, 2]):
        out = check_labels(labels, 2, 3)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, [1, 2])
    np.testing.assert_array_equal(y, before)
    with pytest.raises(ValueError, match="NaN"):
        check_labels(np.array([0.0, np.nan]), 2, 3)


def test_check_finite_tensor_eager_and_in_graph():
    x = tf.constant([[0.0, 0.5, 1.0]])
    assert check_finite_tensor(x, "x", (0, 1)) is x
    check_finite_tensor(tf.constant([[1, 2]]), "labels")  # integers are finite
    with pytest.raises(ValueError, match="x_in contains NaN or inf"):
        check_finite_tensor(tf.constant([[0.0, np.nan]]), "x_in")
    with pytest.raises(ValueError, match="x_in contains NaN or inf"):
        check_finite_tensor(np.array([[np.inf]], np.float32), "x_in")
    with pytest.raises(ValueError, match=r"x values must lie within clip_values \(0, 1\)"):
        check_finite_tensor(tf.constant([[2.0]]), "x", (0, 1))

    @tf.function
    def forward(t):
        return check_finite_tensor(t, "x_graph", (0, 1)) * 2.0

    np.testing.assert_allclose(forward(x).numpy(), [[0.0, 1.0, 2.0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="x_graph contains NaN or inf"):
        forward(tf.constant([[np.nan, 0.0, 0.0]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="x_graph values must lie within clip_values"):
        forward(tf.constant([[3.0, 0.0, 0.0]]))


def test_clip_values_and_batches():
    assert check_clip_values([0, 255]) == (0.0, 255.0)
    with pytest.raises(ValueError):
        check_clip_values((1, 1))
    assert [(s.start, s.stop) for s in batches(5, 2)] == [(0, 2), (2, 4), (4, 5)]
    with pytest.raises(ValueError):
        list(batches(5, 0))


def test_host_staging_pads_casts_and_never_leaks_its_buffer():
    import copy
    import pickle

    staging = HostStaging()
    x = np.arange(12, dtype=np.float64).reshape(3, 2, 2)
    out = staging.run(lambda t: t * 2.0, x, rows=5)
    assert out.dtype == np.float32 and out.shape == (5, 2, 2)
    np.testing.assert_array_equal(out[:3], 2 * x)
    np.testing.assert_array_equal(out[3:], np.broadcast_to(2 * x[-1], (2, 2, 2)))  # padded with the last row
    first = staging.run(tf.identity, x)  # identity may alias the staging buffer: run must hand back a copy
    staging.run(tf.identity, x + 100.0)
    np.testing.assert_array_equal(first, x)
    for clone in (copy.deepcopy(staging), pickle.loads(pickle.dumps(staging))):
        np.testing.assert_array_equal(clone.run(tf.identity, x), x)
    with pytest.raises(ValueError, match="pad"):
        staging.run(tf.identity, x, rows=2)


def test_tanh_space_round_trip_stays_in_box():
    x = tf.constant([[0.0, 0.25, 1.0]])
    back = from_tanh_space(to_tanh_space(x, 0.0, 1.0), 0.0, 1.0)
    np.testing.assert_allclose(back.numpy(), x.numpy(), atol=1e-5)
    assert float(tf.reduce_max(from_tanh_space(tf.constant([1e3]), 0.0, 1.0))) <= 1.0


def test_fgsm_steps_are_bounded_per_sample():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    x = tf.constant(np.random.default_rng(0).random((3, 4), dtype=np.float32) * 0.5 + 0.25)
    y = tf.constant([0, 1, 2])
    eps = tf.constant([0.0, 0.1, 0.2])
    delta = np.abs((fgsm(model, x, y, eps) - x).numpy()).max(axis=1)
    np.testing.assert_allclose(delta, [0.0, 0.1, 0.2], atol=1e-6)
    delta = np.abs((iterative_fgsm(model, x, y, 0.1, steps=4) - x).numpy()).max()
    assert delta <= 0.1 + 1e-6
