"""Training on whatever a contract-conforming table holds: the CV choice is the CV's best score, CV folds
too small to fit are skipped (and say so), a fit with nothing to learn from is one line, and the model
saved with skops needs no type beyond the trusted list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from denial_risk.claims.table import load_claims
from denial_risk.errors import UserError
from denial_risk.features.select import InformativeColumns
from denial_risk.modeling import bundle, train
from denial_risk.modeling import candidates as candidates_module
from denial_risk.modeling.config import load_config
from denial_risk.testing import make_cpt_claims

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "cpt_config.toml"


@pytest.fixture(scope="module")
def cpt_frame(tmp_path_factory):
    path = tmp_path_factory.mktemp("cpt") / "claims.csv"
    make_cpt_claims(3000, 4).to_csv(path, index=False)
    frame, rejects = load_claims(path)
    assert len(rejects) == 0
    return frame


@pytest.fixture(scope="module")
def config():
    return load_config(str(CONFIG))


def test_the_choice_is_the_best_cv_score_whichever_candidate_it_is(cpt_frame, config, monkeypatch):
    real = train.candidates(config.seed)
    monkeypatch.setattr(
        candidates_module,
        "candidates",
        lambda seed: {"hgb": real["hgb"], "prior": make_pipeline(InformativeColumns(), DummyClassifier())},
    )
    y = cpt_frame["denied"].astype(int).to_numpy()
    chosen, cv, dropped = train.choose_classifier(train.feature_input(cpt_frame, config), y, config)
    assert cv["prior"] == pytest.approx(0.5)  # a constant predictor's AUC, in every fold
    assert cv["hgb"] > 0.6 and chosen == "hgb"
    assert len(dropped) == 3 and all(d is not None and d > 0 for d in dropped)


def test_cv_folds_without_both_classes_are_skipped_and_the_fit_goes_on(cpt_frame, config):
    frame = cpt_frame.sort_values("service_date", kind="stable").reset_index(drop=True)
    early = np.arange(len(frame)) < int(0.2 * len(frame))  # the first CV fold's training lines all paid
    frame.loc[early, "denied"] = False
    result = train.fit_model(frame, config)
    folds = result.params["cv_features_dropped"].split(",")
    assert folds[0] == "-" and all(f.isdigit() for f in folds[1:])
    cv = {k.removeprefix("cv_auc_"): v for k, v in result.params.items() if k.startswith("cv_auc_")}
    assert result.params["classifier"] == max(cv, key=cv.get)
    assert result.metrics["roc_auc"] > 0.65


def test_nothing_learnable_is_one_line(cpt_frame, config, monkeypatch):
    def constant_features(_config):
        names = np.array(["a__x", "a__y", "a__z"])
        return FunctionTransformer(lambda X: np.ones((len(X), 3)), feature_names_out=lambda _t, _n: names)

    monkeypatch.setattr(train, "_features", constant_features)
    frame = cpt_frame.sort_values("service_date", kind="stable")
    with pytest.raises(UserError, match=r"^--data: nothing learnable: every feature is constant or missing"):
        train.fit_on(frame.iloc[:2000], frame.iloc[2000:2500], config, chosen="logistic")


@pytest.mark.parametrize("chosen", ["hgb", "logistic"])
def test_a_model_with_dropped_columns_saves_with_the_trusted_types_and_scores_the_same(
    cpt_frame, config, chosen, tmp_path
):
    frame = cpt_frame.sort_values("service_date", kind="stable")
    fitted = train.fit_on(frame.iloc[:2200], frame.iloc[2200:2600], config, chosen=chosen)
    assert len(fitted.dropped["classifier"]) > 0
    assert fitted.model.info["features_dropped"]["classifier"] == fitted.dropped["classifier"]
    folder = bundle.save_bundle(fitted.model, tmp_path / "bundle")  # refuses any type outside the list
    loaded = bundle.load_bundle(folder)
    rows = train.feature_input(frame.iloc[2600:], config)
    X = loaded.transform(rows)
    assert X.shape[1] == len(loaded.feature_names)  # the full matrix: names and groups unchanged
    np.testing.assert_allclose(
        loaded.proba_from_matrix(X), fitted.model.predict_proba(rows), rtol=0, atol=1e-12
    )
    assert loaded.top_carcs(X[:5])[0]  # the reason model, with its own mask, loads and predicts


def test_a_backlog_without_a_configured_column_scores_it_as_unknown_and_warns(cpt_frame, config, caplog):
    frame = cpt_frame.sort_values("service_date", kind="stable")
    model = train.fit_on(frame.iloc[:2200], frame.iloc[2200:2600], config, chosen="logistic").model
    rows = train.feature_input(frame.iloc[2600:], config)
    blank = model.predict_proba(rows.assign(specialty=pd.Series(pd.NA, index=rows.index, dtype="string")))
    with caplog.at_level("WARNING", logger="denial_risk.modeling.model"):
        absent = model.predict_proba(rows.drop(columns=["specialty"]))
    np.testing.assert_array_equal(absent, blank)
    assert not np.array_equal(absent, model.predict_proba(rows))  # the column mattered
    assert "['specialty'] the model was trained with are absent" in caplog.text


def test_a_carc_with_one_denied_line_in_the_slice_fits_the_reason_model(cpt_frame, config):
    """A peer's table: one denied line carries a CARC no other line has. Pooled as "other", it is a
    class of one, which scikit-learn's stratified early-stopping split cannot draw (it raised)."""
    frame = cpt_frame.sort_values("service_date", kind="stable").reset_index(drop=True)
    fit_rows, calib = frame.iloc[:2200].copy(), frame.iloc[2200:2600]
    first_denied = fit_rows.index[fit_rows["denied"].astype(bool)][0]
    fit_rows.loc[first_denied, "denial_reason"] = "CO-B7"
    model = train.fit_on(fit_rows, calib, config, chosen="logistic").model
    assert "other" in set(np.asarray(model.reason_model.classes_).astype(str))
    assert "CO-B7" not in set(np.asarray(model.reason_model.classes_).astype(str))
    X = model.transform(train.feature_input(frame.iloc[2600:2610], config))
    proba = model.reason_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
