"""Recording a saved training set in the active MLflow run (the optional ``[mlflow]`` extra)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from featurekit.errors import DatasetError

#: MLflow keeps a dataset digest of at most 36 characters; the full hash goes in a tag
DIGEST_LENGTH = 32


def log_dataset(name: str, manifest: dict[str, Any], path: Path) -> None:
    """Log the Parquet file at ``path`` as a training input of the active run.

    The input carries the content hash (as its digest and in the ``featurekit.content_hash``
    tag); the whole manifest is logged next to it as ``featurekit/datasets/<name>.json``.
    """
    try:
        import mlflow
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
    except ImportError:
        raise DatasetError("log_to_mlflow=True needs MLflow: pip install 'featurekit[mlflow]'"
                           ) from None
    if mlflow.active_run() is None:
        raise DatasetError("log_to_mlflow=True needs an active MLflow run: call training_set "
                           "inside `with mlflow.start_run():`")
    with warnings.catch_warnings():  # a local path matches MLflow's two local-file sources
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(str(path.resolve()))
    dataset = MetaDataset(source=source, name=name,
                          digest=manifest["content_hash"][:DIGEST_LENGTH])
    tags = {
        "featurekit.content_hash": manifest["content_hash"],
        "featurekit.rows": str(manifest["rows"]),
        "featurekit.target": manifest["target"]["name"],
        "featurekit.version": manifest["featurekit_version"],
    }
    mlflow.log_input(dataset, context="training", tags=tags)
    mlflow.log_dict(manifest, f"featurekit/datasets/{name}.json")
