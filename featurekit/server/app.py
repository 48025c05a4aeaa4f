"""The HTTP feature server (``featurekit serve``): online features, log writers, metrics.

Each worker process owns one ``Project`` and does all database work on one thread (an
executor of one), so a connection is never shared between threads and the event loop stays
free for ``/health`` and ``/metrics``. Errors come back as JSON ``{"error": ...}``: a request
that does not fit (bad JSON, unknown features, a frame that does not fit its log) is 400; a
database that cannot be reached, is locked or dropped the connection is 503 with the cause,
and the next request connects again, so the server recovers by itself when the database does.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from featurekit.errors import EngineError, FeaturekitError
from featurekit.server import feast_json
from featurekit.server.metrics import Metrics

if TYPE_CHECKING:
    from featurekit.project import Project

T = TypeVar("T")
Scalar = int | float | str | bool | None
#: environment variables that tell a worker process which project to serve
ENV_PROJECT, ENV_TARGET, ENV_PROFILES = (
    "FEATUREKIT_SERVE_PROJECT_DIR", "FEATUREKIT_TARGET", "FEATUREKIT_PROFILES_DIR")


class OnlineFeaturesRequest(BaseModel):
    """Feast's ``/get-online-features`` request."""

    entities: dict[str, list[Scalar]] = Field(
        description="Entity key values by column, e.g. {\"customer_id\": [1, 2]}.")
    features: list[str] | None = Field(
        None, description="view:feature or view.column references (view:* for all).")
    feature_service: str | None = Field(None, description="A feature service's name.")
    full_feature_names: bool = Field(False, description="Name features view__feature.")


class FeatureVector(BaseModel):
    values: list[Any]
    statuses: list[Literal["PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"]]
    event_timestamps: list[str]


class FeatureNames(BaseModel):
    feature_names: list[str]


class OnlineFeaturesResponse(BaseModel):
    """Feast's answer: one vector per name in ``metadata.feature_names``, one entry per entity."""

    metadata: FeatureNames
    results: list[FeatureVector]


class PredictionsRequest(BaseModel):
    model: str = Field(description="The model's name: rows go to predictions_<model>.")
    rows: list[dict[str, Scalar]] = Field(
        description="One object per prediction: entity keys, features as served, outputs; "
                    "give prediction_id to make retries write nothing twice.")
    version: str | None = Field(None, description="Stored in model_version.")
    allow_new_columns: bool = False


class OutcomesRequest(BaseModel):
    model: str = Field(description="The model's name, as given to /predictions.")
    rows: list[dict[str, Scalar]] = Field(
        description="One object per outcome: prediction_id and the outcome columns.")
    allow_new_columns: bool = False


class LogWritten(BaseModel):
    table: str
    written: int
    skipped: int
    prediction_ids: list[Any] = []
    unknown_ids: list[Any] = []


class Health(BaseModel):
    status: Literal["ok"]
    target: str


class ErrorBody(BaseModel):
    error: str
    detail: list[Any] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The request does not fit (named in error)."},
    503: {"model": ErrorBody, "description": "The database cannot be reached (the cause)."},
}


class Unavailable(Exception):
    """The database is down, locked, or dropped the connection; the message says which."""


class Server:
    """One project, one database thread, and the request handlers' shared logic."""

    def __init__(self, project: Project):
        self.project = project
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="featurekit-db")

    async def run(self, work: Callable[[Project], T]) -> T:
        """``work(project)`` on the database thread, with connection failures retried once."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._guarded, work)

    def _guarded(self, work: Callable[[Project], T]) -> T:
        try:
            return work(self.project)
        except (EngineError, Unavailable):
            self.project.close()  # reconnect on the next request
            raise
        except FeaturekitError:
            raise
        except Exception as exc:  # noqa: BLE001 - the driver's own errors
            if self._connection_alive():
                raise RejectedByDatabase(
                    f"the database rejected the request: {_cause(exc)}") from None
        # The connection died under us (a restart, pg_terminate_backend): reconnect, once.
        try:
            return work(self.project)
        except FeaturekitError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.project.close()
            raise Unavailable(f"database error: {_cause(exc)}") from None

    def _connection_alive(self) -> bool:
        try:
            self.project.engine.ping()
            return True
        except FeaturekitError:
            raise
        except Exception:  # noqa: BLE001 - a dead connection fails any way it likes
            self.project.close()
            return False

    def close(self) -> None:
        self.executor.submit(self.project.close).result()
        self.executor.shutdown()


class RejectedByDatabase(FeaturekitError):
    """The database refused the statement a request made (a value of the wrong type...)."""


def _cause(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def create_app(project: Project) -> FastAPI:
    """The FastAPI application serving ``project``."""
    server = Server(project)
    metrics = Metrics()
    online = feast_json.OnlineLookup()

    async def lifespan(app: FastAPI):
        yield
        server.close()

    app = FastAPI(
        title="featurekit feature server",
        description="Online features in Feast's JSON shape, prediction and outcome logs, "
                    "health and Prometheus metrics.",
        version=_version(), lifespan=lifespan,
    )
    app.add_middleware(JsonBody)
    app.add_middleware(metrics.middleware)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))}
                  for e in exc.errors()]
        where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail)
        return JSONResponse({"error": f"invalid request: {where}", "detail": detail}, 400)

    @app.exception_handler(FeaturekitError)
    async def rejected(request: Request, exc: FeaturekitError) -> JSONResponse:
        status = 503 if isinstance(exc, EngineError) else 400
        return JSONResponse({"error": str(exc)}, status)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 503)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error: {_cause(exc)}"}, 500)

    @app.post("/get-online-features", response_model=OnlineFeaturesResponse, responses=ERRORS)
    async def get_online_features(body: OnlineFeaturesRequest) -> Response:
        """The latest feature values per entity, in Feast's feature-server JSON shape."""
        features = _features(body)
        lengths = {len(values) for values in body.entities.values()}
        if not body.entities or len(lengths) > 1:
            raise RejectedRequest(
                "entities: give one or more entity columns with the same number of values, "
                'e.g. {"customer_id": [1, 2]}')

        def lookup(project: Project) -> dict[str, Any]:
            if features is None:
                wanted = _service_features(project, body.feature_service or "")
            else:
                wanted = features
            return online(project, wanted, body.entities, body.full_feature_names)

        return JSONResponse(await server.run(lookup))

    @app.post("/predictions", response_model=LogWritten, responses=ERRORS)
    async def predictions(body: PredictionsRequest) -> Response:
        """Append predictions to predictions_<model>; a prediction_id already logged is
        skipped, so a retried request writes nothing twice."""
        frame = _frame(body.rows, "predicted_at")

        def write(project: Project) -> dict[str, Any]:
            written = project.log_predictions(body.model, frame, version=body.version,
                                              allow_new_columns=body.allow_new_columns)
            return {"table": written.table, "written": int(written),
                    "skipped": written.skipped,
                    "prediction_ids": [feast_json.value_json(i) for i in written.prediction_ids]}

        return JSONResponse(await server.run(write))

    @app.post("/outcomes", response_model=LogWritten, responses=ERRORS)
    async def outcomes(body: OutcomesRequest) -> Response:
        """Record ground truth in outcomes_<model>; an outcome already recorded for a
        prediction_id is skipped. Ids never logged are kept and listed in unknown_ids."""
        frame = _frame(body.rows, "observed_at")

        def write(project: Project) -> dict[str, Any]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unknown ids are in the answer
                written = project.log_outcomes(body.model, frame,
                                               allow_new_columns=body.allow_new_columns)
            return {"table": written.table, "written": int(written),
                    "skipped": written.skipped,
                    "unknown_ids": [feast_json.value_json(i) for i in written.unknown_ids]}

        return JSONResponse(await server.run(write))

    @app.get("/health", response_model=Health, responses={503: ERRORS[503]})
    async def health() -> Response:
        """200 when the database answers, else 503 with the cause."""
        await server.run(lambda project: project.engine.ping())
        return JSONResponse({"status": "ok", "target": project.target.name})

    @app.get("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}},
                              "description": "Prometheus text exposition format."}})
    async def prometheus_metrics() -> Response:
        """Request latencies, feature-view staleness and every monitor check's latest
        statistic, p-value and status (Prometheus text format)."""
        try:
            snapshot = await server.run(metrics.snapshot)
        except (FeaturekitError, Unavailable) as exc:
            snapshot = metrics.unavailable(str(exc))
        body, content_type = metrics.render(snapshot)
        return Response(body, media_type=content_type)

    return app


class JsonBody:
    """Reads every POST body as JSON: ``curl -d '{...}'``, as in Feast's docs, labels it
    form-encoded (and some clients send no content type), but the body is JSON all the same."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            # in place: the timing middleware outside reads the route the router sets here
            scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


class RejectedRequest(FeaturekitError):
    """A request whose content does not fit (its message says what to send instead)."""


def _features(body: OnlineFeaturesRequest) -> list[str] | None:
    """The feature references, or None when a feature service names them."""
    if (body.features is None) == (body.feature_service is None):
        raise RejectedRequest('give exactly one of "features": [...] or "feature_service"')
    if body.features is None:
        return None
    if not body.features:
        raise RejectedRequest('"features" is empty: name at least one view:feature')
    return [feast_json.feature_reference(f) for f in body.features]


def _service_features(project: Project, name: str) -> list[str]:
    """The features a feature service names (``models_sql/feature_services.yml``)."""
    return list(project.feature_service(name).features)


def _frame(rows: list[dict[str, Any]], time_column: str) -> Any:
    import pandas as pd

    if not rows:
        raise RejectedRequest('"rows" is empty: send one object per row')
    frame = pd.DataFrame.from_records(rows)
    if time_column in frame.columns:
        try:
            frame[time_column] = pd.to_datetime(frame[time_column], utc=True)
        except (ValueError, TypeError) as exc:
            raise RejectedRequest(f"{time_column}: not a timestamp ({exc})") from None
    return frame


def _version() -> str:
    from featurekit import __version__

    return __version__


def app_from_environment() -> FastAPI:
    """The app for the project named by ``FEATUREKIT_SERVE_PROJECT_DIR`` (uvicorn workers)."""
    from featurekit.project import Project

    project = Project(os.environ.get(ENV_PROJECT, "."), target=os.environ.get(ENV_TARGET),
                      profiles_dir=os.environ.get(ENV_PROFILES))
    return create_app(project)
