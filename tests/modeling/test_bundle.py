"""skops trusts exactly the classes a DenialModel needs: no prefix, no function."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import pytest

from denial_risk.modeling import bundle


def _resolve(name: str):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_every_trusted_name_is_a_class():
    for name in sorted(bundle.ALLOWED_EXACT | bundle.OWN_TYPES):
        obj = _resolve(name)
        assert inspect.isclass(obj), f"{name} is trusted but is not a class"


def test_every_feature_class_of_the_package_is_listed():
    """A new transformer must be added to OWN_TYPES by name (a model containing it would not save)."""
    import denial_risk.features as features
    from denial_risk.features._base import ColumnFeatures, PlainState

    found = set()
    for info in pkgutil.iter_modules(features.__path__):
        module = importlib.import_module(f"denial_risk.features.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, PlainState):
                if (
                    cls.__name__.startswith("_")
                    or cls in (ColumnFeatures, PlainState)
                    or inspect.isabstract(cls)
                ):
                    continue
                found.add(f"{cls.__module__}.{cls.__qualname__}")
    abstract = {"denial_risk.features._base.TargetFeatures"}
    assert found - abstract <= bundle.OWN_TYPES


def test_functions_and_unlisted_names_of_our_own_package_are_not_trusted():
    for name in (
        "denial_risk.registry.tracking.load_pyfunc",
        "denial_risk.registry.tracking.load_model",
        "denial_risk.tableio.files.write_text",
        "denial_risk.modeling.bundle.load_bundle",
        "denial_risk.modeling.model.DenialModel.predict_proba",
        "denial_risk.modeling.modelX.DenialModel",
    ):
        assert not bundle._allowed(name), name


def test_a_model_saves_and_loads_with_the_exact_list(denial_model, tmp_path):
    folder = bundle.save_bundle(denial_model, tmp_path / "b")
    needed = json.loads((folder / bundle.TRUSTED_FILE).read_text())
    assert set(needed) <= bundle.ALLOWED_EXACT | bundle.OWN_TYPES
    loaded = bundle.load_bundle(folder)
    assert loaded.feature_names == denial_model.feature_names


def test_a_trusted_list_naming_a_function_is_refused(denial_model, tmp_path):
    folder = bundle.save_bundle(denial_model, tmp_path / "b")
    path = folder / bundle.TRUSTED_FILE
    path.write_text(json.dumps(json.loads(path.read_text()) + ["denial_risk.registry.tracking.load_pyfunc"]))
    with pytest.raises(TypeError, match="does not allow"):
        bundle.load_bundle(folder)
