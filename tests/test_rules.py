"""Prometheus alerting rules from monitor thresholds, and alerts firing end to end.

The end-to-end test runs a real Prometheus (Debian's package, installed by .ci/run) that
scrapes a real ``featurekit serve`` on PostgreSQL, evaluates the generated rules, and is
asked through its HTTP API whether the drift alert fires.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from tests.conftest import ProjectFactory, require_engine
from tests.server_process import answers, background_process, free_port, running_server

MONITOR = """\
prediction_log: fraud
timestamp: predicted_at
reference: {start: 2024-01-01, end: 2024-01-02}
current: {start: 2024-01-02, end: 2024-01-03}
checks:
  - {column: score, test: ks}
  - {column: score, test: psi, warn: 0.2, error: 0.3}
  - {column: score, test: null_rate}
  - {test: row_count, min: 100, severity: warn}
"""


def featurekit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "featurekit", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def rules_by_expr(path: Path) -> dict[str, dict]:
    document = yaml.safe_load(path.read_text())
    return {rule["expr"]: rule for rule in document["groups"][0]["rules"]}


def test_rules_follow_each_checks_thresholds_and_direction(duck_project):
    duck_project.model("one", "SELECT 1 AS x")
    duck_project.write("monitors/fraud_model.yml", MONITOR)
    out = duck_project.root / "rules.yml"
    done = featurekit("monitor", "--prometheus-rules", str(out), "--alert-for", "2m",
                      cwd=duck_project.root)
    assert done.returncode == 0, done.stderr
    rules = rules_by_expr(out)
    sel = 'monitor="fraud_model",check="{0}",test="{0}"'
    assert set(rules) == {
        # ks is judged on its p-value: lower is worse (defaults warn 0.05, error 0.01)
        f"featurekit_check_p_value{{{sel.format('ks')}}} < 0.01",
        f"featurekit_check_p_value{{{sel.format('ks')}}} < 0.05 >= 0.01",
        f"featurekit_check_value{{{sel.format('psi')}}} > 0.3",
        f"featurekit_check_value{{{sel.format('psi')}}} > 0.2 <= 0.3",
        f"featurekit_check_value{{{sel.format('null_rate')}}} > 0.05",
        f"featurekit_check_value{{{sel.format('null_rate')}}} > 0.01 <= 0.05",
        f"featurekit_check_value{{{sel.format('row_count')}}} < 100",
    }
    ks = rules[f"featurekit_check_p_value{{{sel.format('ks')}}} < 0.01"]
    assert ks["alert"] == "ModelDriftHigh" and ks["for"] == "2m"
    assert ks["labels"] == {"severity": "critical", "monitor": "fraud_model", "check": "ks",
                            "test": "ks"}
    assert "fraud" in ks["annotations"]["summary"]
    assert "{{ $labels.column }}" in ks["annotations"]["summary"]
    assert rules[f"featurekit_check_value{{{sel.format('row_count')}}} < 100"]["labels"][
        "severity"] == "warning"
    assert rules[f"featurekit_check_value{{{sel.format('null_rate')}}} > 0.05"][
        "alert"] == "DataQualityDegraded"


def test_generated_rules_pass_promtool(duck_project):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (.ci/run installs Debian's prometheus package)")
    duck_project.model("one", "SELECT 1 AS x")
    duck_project.write("monitors/fraud_model.yml", MONITOR)
    for example in (Path(__file__).parents[1] / "monitors").glob("*.yml"):
        duck_project.write(f"monitors/{example.name}", example.read_text())
    out = duck_project.root / "rules.yml"
    assert featurekit("monitor", "--prometheus-rules", str(out),
                      cwd=duck_project.root).returncode == 0
    checked = subprocess.run([promtool, "check", "rules", str(out)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


@pytest.mark.parametrize("where", ["a_folder", "under_a_file/rules.yml", "missing/rules.yml"])
def test_an_unwritable_rules_path_is_one_clear_error(duck_project, where):
    duck_project.model("one", "SELECT 1 AS x")
    duck_project.write("monitors/fraud_model.yml", MONITOR)
    (duck_project.root / "a_folder").mkdir()
    (duck_project.root / "under_a_file").write_text("a file, not a folder")
    done = featurekit("monitor", "--prometheus-rules", str(duck_project.root / where),
                      cwd=duck_project.root)
    assert done.returncode == 2
    assert "--prometheus-rules" in done.stderr and where in done.stderr
    assert "Traceback" not in done.stderr
    # nothing written: neither the file nor its temporary
    assert [p for p in duck_project.root.rglob("*")
            if "rules" in p.name or p.name.startswith(".a_folder")] == []


def test_a_bad_alert_for_is_one_clear_error(duck_project):
    duck_project.model("one", "SELECT 1 AS x")
    duck_project.write("monitors/fraud_model.yml", MONITOR)
    done = featurekit("monitor", "--prometheus-rules", "rules.yml", "--alert-for", "five",
                      cwd=duck_project.root)
    assert done.returncode == 2 and "--alert-for" in done.stderr


# -- end to end: featurekit serve -> Prometheus -> alert firing --------------------------------

@contextlib.contextmanager
def running_prometheus(folder: Path, rules: Path, target: str):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (.ci/run installs Debian's prometheus package)")
    port = free_port()
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "featurekit",
                            "static_configs": [{"targets": [target]}]}],
    }))
    url = f"http://127.0.0.1:{port}"
    command = [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'data'}",
               f"--web.listen-address=127.0.0.1:{port}"]
    with background_process(command, lambda: answers(f"{url}/-/ready"),
                            folder / "prometheus.log", "prometheus"):
        yield url


def predictions(start: str, mean: float, n: int, seed: int, prefix: str) -> list[dict]:
    rng = np.random.default_rng(seed)
    base = np.datetime64(start)
    return [{"prediction_id": f"{prefix}{i}", "score": float(score),
             "predicted_at": str(base + np.timedelta64(int(i * 86_000_000 / n), "ms"))}
            for i, score in enumerate(rng.normal(mean, 0.1, n))]


def alerts(prometheus: str) -> list[dict]:
    return httpx.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]


def wait_for(condition, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_drift_fires_the_alert_in_prometheus(tmp_path):
    require_engine("postgres")
    from scipy import stats

    factory = ProjectFactory("postgres", tmp_path / "proj")
    factory._sources = {}
    factory.model("one", "SELECT 1 AS x")
    factory.write("monitors/fraud_model.yml", MONITOR)
    rules = tmp_path / "rules.yml"
    done = featurekit("monitor", "--prometheus-rules", str(rules), "--alert-for", "1s",
                      cwd=factory.root)
    assert done.returncode == 0, done.stderr
    reference = predictions("2024-01-01", 0.3, 300, 1, "r")
    steady = predictions("2024-01-02", 0.3, 300, 2, "c")
    shifted = predictions("2024-01-02", 0.6, 300, 3, "s")
    # the expected p-values, from scipy on the rows themselves
    ref = [r["score"] for r in reference]
    assert stats.ks_2samp(ref, [r["score"] for r in steady]).pvalue > 0.05
    assert stats.ks_2samp(ref, [r["score"] for r in steady + shifted]).pvalue < 0.01
    try:
        with running_server(factory.root) as url:
            for batch in (reference, steady):
                answer = httpx.post(f"{url}/predictions", json={"model": "fraud", "rows": batch},
                                    timeout=60)
                assert answer.status_code == 200, answer.text
            project = factory.open()
            project.monitor(run_all=True, as_of="2024-01-03")
            with running_prometheus(tmp_path, rules, url.removeprefix("http://")) as prom:
                def scraped():
                    result = httpx.get(f"{prom}/api/v1/query", timeout=10, params={
                        "query": 'featurekit_check_p_value{monitor="fraud_model"}'}).json()
                    return result["data"]["result"]

                assert float(wait_for(scraped, "the p-value scraped")[0]["value"][1]) > 0.05
                time.sleep(3)  # several evaluations of the rules on the steady data
                assert [a for a in alerts(prom) if a["labels"]["alertname"] == "ModelDriftHigh"
                        ] == []
                # drift: the model's scores move, the monitor runs again
                answer = httpx.post(f"{url}/predictions", json={"model": "fraud",
                                                                "rows": shifted}, timeout=60)
                assert answer.status_code == 200, answer.text
                project.monitor(run_all=True, as_of="2024-01-03")

                def firing():
                    return [a for a in alerts(prom) if a["state"] == "firing"
                            and a["labels"]["alertname"] == "ModelDriftHigh"
                            and a["labels"]["test"] == "ks"]

                alert = wait_for(firing, "ModelDriftHigh firing")[0]
                assert alert["labels"]["severity"] == "critical"
                assert alert["labels"]["monitor"] == "fraud_model"
                assert alert["labels"]["column"] == "score"
                assert "fraud: monitor fraud_model, check ks, column score" in alert[
                    "annotations"]["summary"]
    finally:
        factory.cleanup()
