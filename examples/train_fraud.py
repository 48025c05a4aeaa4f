"""Train a fraud model on point-in-time correct features, then log its predictions and outcomes.

    featurekit refresh && python examples/train_fraud.py [--target pg]

1. A training set: every labeled transaction (the ``fraud_training_labels`` model) with the
   customer's 7-day spend, profile and the merchant's 30-day risk as known at that moment.
2. A scikit-learn model trained on January, scored out of time on February and March.
3. The scores logged to ``predictions_fraud`` (the transaction id is the prediction id, so
   re-running writes nothing twice) and the fraud labels to ``outcomes_fraud``, when each
   label became known; ``predictions_fraud_labeled`` joins them for the monitors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

import featurekit

PROJECT = Path(__file__).resolve().parents[1]
LABELS = """
SELECT l.*, CAST(f.labeled_at AS TIMESTAMP) AS labeled_at
FROM fraud_training_labels AS l
JOIN fraud_labels AS f ON CAST(f.txn_id AS BIGINT) = l.txn_id
"""
# The feature service of models_sql/feature_services.yml: the 7-day spend, two profile
# columns and the merchant's 30-day risk, as one versioned name.
FEATURES = "fraud_v1"
CUTOFF = pd.Timestamp("2024-02-01")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None, help="profiles.yml output (default: dev)")
    args = parser.parse_args()

    with featurekit.Project(PROJECT, target=args.target) as project:
        train = project.training_set(LABELS, FEATURES, timestamp="event_timestamp")
        print(f"training set: {len(train):,} rows x {train.shape[1]} columns "
              f"({train['spend_7d'].isna().mean():.1%} without a 7-day spend row in ttl)")

        columns = ["amount", "spend_7d", "txn_count_7d", "avg_amount_7d", "max_amount_7d",
                   "online_share_7d", "age", "tenure_days", "txn_count_30d", "fraud_rate_30d"]
        x = train[columns].astype(float).assign(
            online=(train["channel"] == "online").astype(float),
            amount_vs_max=train["amount"] / train["max_amount_7d"].astype(float),
        )
        past = train["event_timestamp"] < CUTOFF
        model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0)
        model.fit(x[past], train.loc[past, "is_fraud"])
        future = train[~past]
        scores = model.predict_proba(x[~past])[:, 1]
        print(f"trained on {past.sum():,} January rows; ROC AUC on {len(future):,} later rows: "
              f"{roc_auc_score(future['is_fraud'], scores):.3f}")

        # Predictions as if served live: at each transaction's time, with the served features.
        predictions = future[["txn_id", "customer_id", "merchant_id", "amount", "channel",
                              *columns[1:]]].assign(
            prediction_id=future["txn_id"].astype(str),
            predicted_at=future["event_timestamp"],
            score=scores,
        )
        logged = project.log_predictions("fraud", predictions, version="hgb-v1")
        print(f"predictions_fraud: {int(logged):,} rows written, {logged.skipped:,} already "
              f"logged")

        outcomes = pd.DataFrame({
            "prediction_id": future["txn_id"].astype(str),
            "is_fraud": future["is_fraud"],
            "observed_at": future["labeled_at"],
        })
        recorded = project.log_outcomes("fraud", outcomes)
        print(f"outcomes_fraud: {int(recorded):,} rows written, {recorded.skipped:,} already "
              f"recorded, {len(recorded.unknown_ids)} for unknown predictions")

        engine = project.engine
        labeled = engine.relation("predictions_fraud_labeled")
        for is_fraud, n, mean_score in engine.fetchall(
            f"SELECT is_fraud, count(*), avg(score) FROM {labeled} GROUP BY is_fraud "
            f"ORDER BY is_fraud"
        ):
            print(f"  is_fraud={is_fraud}: {n:,} predictions, mean score {mean_score:.3f}")


if __name__ == "__main__":
    main()
