"""The UDDN reproduction's CIFAR-10 path below paper scale: the reference models in every role."""

import pytest

from art_ext.experiments import cifar_models, uddn


@pytest.mark.parametrize("scale", ["smoke", "small"])
def test_cifar_roles_are_distinct_reference_models(scale):
    (target, source, held_out), extra, options = uddn._MODELS[("cifar10", scale)]
    names = [target, source, held_out, *extra]
    assert ("cifar10", scale) in uddn._REFERENCE and not options
    assert set(names) <= set(cifar_models.REFERENCE_MODELS)
    assert len(set(names)) == len(names)  # B and C are never a pair source or a guide


def test_cifar_run_names_the_training_command_before_any_work(random_cifar):
    with pytest.raises(FileNotFoundError, match="not trained yet; train them with: .*art-ext reproduce cifar-models"):
        uddn.run(scale="small", dataset="cifar10", out_dir=str(random_cifar / "out"), verbose=False)
    assert not (random_cifar / "out").exists()
