"""The simulated HubSpot as an ``aiohttp.web`` application: state, routes and request handlers."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from cartloader.simulator import bodies
from cartloader.simulator.associations import Label, target
from cartloader.simulator.batch import INLINE_ERRORS_VERSION, BatchAnswer, BatchProcessor, BatchRequest, iso_now
from cartloader.simulator.config import READ_SCOPE, SCHEMA_READ_SCOPE, WRITE_SCOPE, SimulatorConfig
from cartloader.simulator.contacts import Directory, LiveTargets
from cartloader.simulator.faults import FaultPicker
from cartloader.simulator.finding import Finder
from cartloader.simulator.irregular import ANSWER_FAULTS, distort
from cartloader.simulator.labels import endpoint_name, routes
from cartloader.simulator.latency import LatencyModel
from cartloader.simulator.limits import DAILY, RequestLimits
from cartloader.simulator.links import link_batch
from cartloader.simulator.reads import read_batch
from cartloader.simulator.schema import SENSITIVITIES
from cartloader.simulator.state import ObjectStore, SimStats, StatsRecorder
from cartloader.simulator.validation import CartRules, MalformedRequest

OBJECT_TYPES = frozenset({"carts", "0-142"})
DEFAULT_GET_PROPERTIES = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
JSON_TYPE = "application/json;charset=utf-8"
CORRELATION_HEADER = "X-HubSpot-Correlation-Id"
_BATCH_OPS = ("create", "upsert")
#: Date versions served beside ``v3`` (and ``v4`` for associations); a path with another version is a 404.
DATE_VERSIONS = "{version:2026-03|2026-09}"
#: Property definitions and rules may be read with either scope (spec files PublicApiSpecs/CRM/Properties/... and
#: PublicApiSpecs/CRM/Property Validations/...); the 403 names the first.
SCHEMA_SCOPES = (SCHEMA_READ_SCOPE, READ_SCOPE)


def seeded_rng(seed: int | None, purpose: str) -> random.Random:
    """An RNG for one purpose, so that e.g. fault draws do not depend on how many results were shuffled."""
    return random.Random(f"{seed}/{purpose}") if seed is not None else random.Random()


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    all_headers = {"Content-Type": JSON_TYPE}
    if headers:
        all_headers.update(headers)
    if isinstance(body, dict) and isinstance(body.get("correlationId"), str):
        all_headers[CORRELATION_HEADER] = body["correlationId"]
    return web.Response(status=status, body=orjson.dumps(body), headers=all_headers)


@web.middleware
async def _correlated(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer carries ``X-HubSpot-Correlation-Id`` (reference: also an HTML error page): the error body's
    ``correlationId`` where there is one, else a fresh uuid4."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.setdefault(CORRELATION_HEADER, str(uuid.uuid4()))
        raise
    if CORRELATION_HEADER not in response.headers:
        response.headers[CORRELATION_HEADER] = str(uuid.uuid4())
    return response


def _drop_connection(request: web.Request) -> web.Response:
    """Abort the TCP connection so the client gets no answer at all."""
    if request.transport is not None:
        request.transport.abort()
    # aiohttp notices the closed transport and writes nothing; the response is only a formality.
    return web.Response(status=499)


class SimulatedHubSpot:
    """Everything the simulator knows and does; ``application()`` serves it over HTTP."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.tokens: dict[str, frozenset[str]] = dict(config.tokens)
        self.expired: dict[str, float] = {}
        self.stats = StatsRecorder()
        self.limits = RequestLimits(config.parsed_rate, config.daily, count_rejected=config.count_rejected)
        self.latency = (
            LatencyModel(config.latency_ms[0], config.latency_ms[1], seeded_rng(config.seed, "latency"))
            if config.latency_ms
            else None
        )
        self.schema = config.schema()
        self.store = ObjectStore(self.schema.unique, keep=config.store, first_id=config.first_id)
        self.faults = FaultPicker(config.faults, seeded_rng(config.seed, "faults"), config.faults_at)
        self.directory = Directory.seeded(config.contacts, config.orders)
        self.targets = LiveTargets(config.existing_ids, self.directory)  # archived contacts are gone
        rules = CartRules(self.schema, self.targets, echo=config.echo_forms())
        self.rules = rules
        self.processor = BatchProcessor(
            self.store,
            rules,
            echo_trace_ids=config.echo_trace_ids,
            whole_batch_400=config.whole_batch_400,
            rng=seeded_rng(config.seed, "answers"),
            conflicts=config.conflicts,
        )
        self._irregular_rng = seeded_rng(config.seed, "irregular")
        self._read_rng = seeded_rng(config.seed, "reads")
        self.finder = Finder(self)  # search and batch archive
        self.closing = asyncio.Event()

    def snapshot(self) -> SimStats:
        """Current statistics."""
        return self.stats.snapshot(len(self.store.objects))

    def application(self) -> web.Application:
        """The aiohttp application serving the simulator."""
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_correlated])
        add_get, add_post = app.router.add_get, app.router.add_post
        add_get("/_sim/stats", self._sim_stats)
        add_get("/_sim/objects", self._sim_objects)
        add_post("/_sim/reset-stats", self._sim_reset_stats)
        add_post("/_sim/latency", self._sim_latency)
        labels = [x for x in self.config.labels if isinstance(x, Label)]
        for method, path, handler in routes(self.directory, labels, self._admit, _json):  # before the generic ones
            app.router.add_route(method, path, self._counted(handler))
        for objects in ("/crm/v3/objects", f"/crm/objects/{DATE_VERSIONS}"):
            add_post(objects + "/{object_type}/batch/read", self._counted(self._read))
            add_post(objects + "/{object_type}/search", self._counted(self.finder.search))
            add_post(objects + "/{object_type}/batch/archive", self._counted(self.finder.archive))
            add_post(objects + "/{object_type}/batch/{op}", self._counted(self._batch))
            add_get(objects + "/{object_type}/{object_id}", self._counted(self._get_object))
        for properties in ("/crm/v3/properties", f"/crm/properties/{DATE_VERSIONS}"):
            add_get(properties + "/{object_type}", self._counted(self._properties))
            add_get(properties + "/{object_type}/{name}", self._counted(self._properties))
        for validations in ("/crm/v3/property-validations", f"/crm/property-validations/{DATE_VERSIONS}"):
            add_get(validations + "/{object_type}", self._counted(self._validations))
            add_get(validations + "/{object_type}/{name}", self._counted(self._validations))
        for links in ("/crm/v4/associations", f"/crm/associations/{DATE_VERSIONS}"):
            add_post(links + "/{object_type}/{to_type}/batch/create", self._counted(self._associate))
        app.router.add_route("*", "/{path:.*}", self._counted(self._unknown_path))
        return app

    # --- introspection -------------------------------------------------------------------------------------

    async def _sim_stats(self, request: web.Request) -> web.Response:
        return _json(200, self.snapshot().to_json())

    async def _sim_objects(self, request: web.Request) -> web.Response:
        links = self.store.associations
        objects = [{**obj.to_json(), "associations": links.get(obj.id, [])} for obj in self.store.objects.values()]
        return _json(200, {"count": len(objects), "objects": objects})

    async def _sim_reset_stats(self, request: web.Request) -> web.Response:
        self.stats.reset()
        return _json(200, self.snapshot().to_json())

    async def _sim_latency(self, request: web.Request) -> web.Response:
        """Change the processing time from now on (a benchmark's latency that moves mid-run):
        ``{"p50_ms": P50, "p95_ms": P95}``; ``{"p50_ms": 0}`` for none."""
        try:
            body = await request.json()
            p50, p95 = float(body["p50_ms"]), float(body.get("p95_ms", body["p50_ms"]))
        except (ValueError, KeyError, TypeError):
            return _json(400, {"status": "error", "message": 'expected {"p50_ms": P50, "p95_ms": P95}'})
        if p50 < 0 or p95 < p50:
            return _json(400, {"status": "error", "message": "expected 0 <= p50_ms <= p95_ms"})
        self.latency = LatencyModel(p50, p95, seeded_rng(self.config.seed, "latency")) if p50 > 0 else None
        return _json(200, {"p50_ms": p50, "p95_ms": p95})

    # --- the API ---------------------------------------------------------------------------------------------

    def _counted(
        self, handler: Callable[[web.Request, int], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap an API handler: number the request, track concurrency, count the answer's status."""

        async def counted(request: web.Request) -> web.Response:
            request_no = self.stats.begin()
            self.stats.endpoint(endpoint_name(request))
            try:
                response = await handler(request, request_no)
            finally:
                self.stats.end()
            if response.status != 499:
                self.stats.status(response.status)
            return response

        return counted

    def _authenticate(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None, _json(401, bodies.invalid_authentication())
        expired_at = self.expired.get(token)
        if expired_at is not None:
            return None, _json(401, bodies.expired_authentication(int(time.monotonic() - expired_at)))
        if token not in self.tokens:
            return None, _json(401, bodies.invalid_authentication())
        return token, None

    def _admit(self, request: web.Request, scopes: tuple[str, ...]) -> tuple[dict[str, str], web.Response | None]:
        """Authentication, limits and scopes, in HubSpot's order; the limit headers for the answer."""
        token, refusal = self._authenticate(request)
        if token is None:
            assert refusal is not None
            return {}, refusal
        verdict = self.limits.admit(token)
        headers = verdict.headers
        if verdict.refused_by is not None:
            policy = verdict.refused_by
            self.stats.rate_limited[policy] = self.stats.rate_limited.get(policy, 0) + 1
            body = (
                bodies.rate_limited_daily()
                if policy == DAILY
                else bodies.rate_limited_ten_secondly(self.config.rate_group)
            )
            return headers, _json(429, body, self._retry_after(headers))
        if not any(scope in self.tokens[token] for scope in scopes):
            return headers, _json(403, bodies.missing_scopes(scopes[0]), headers)
        return headers, None

    def _retry_after(self, headers: dict[str, str], default_s: float | None = None) -> dict[str, str]:
        """``headers`` plus ``Retry-After`` when configured (or ``default_s`` when given and none is)."""
        seconds = self.config.retry_after_s if self.config.retry_after_s is not None else default_s
        if seconds is None:
            return headers
        return {**headers, "Retry-After": str(math.ceil(seconds))}

    async def _unknown_path(self, request: web.Request, request_no: int) -> web.Response:
        return _json(404, bodies.not_found())

    async def _get_object(self, request: web.Request, request_no: int) -> web.Response:
        headers, refusal = self._admit(request, (READ_SCOPE, WRITE_SCOPE))
        if refusal is not None:
            return refusal
        object_type = request.match_info["object_type"]
        if object_type not in OBJECT_TYPES:
            return _json(404, bodies.unknown_object_type(object_type), headers)
        object_id = request.match_info["object_id"]
        id_property = request.query.get("idProperty")
        if id_property:
            object_id = self.store.owner(id_property, object_id) or ""
        obj = self.store.objects.get(object_id)
        if obj is None:
            return _json(404, bodies.object_not_found(request.match_info["object_id"]), headers)
        wanted = [p for p in request.query.get("properties", "").split(",") if p] or DEFAULT_GET_PROPERTIES
        properties = {name: obj.properties.get(name) for name in (*DEFAULT_GET_PROPERTIES, *wanted)}
        body = {
            "id": obj.id,
            "properties": properties,
            "createdAt": obj.created_at,
            "updatedAt": obj.updated_at,
            "archived": False,
        }
        return _json(200, body, headers)

    async def _batch(self, request: web.Request, request_no: int) -> web.Response:
        op = request.match_info["op"]
        if op not in _BATCH_OPS:
            return _json(404, bodies.not_found())
        version = request.match_info.get("version", "v3")
        requested_at = iso_now()
        headers, refusal = self._admit(request, (WRITE_SCOPE,))
        if refusal is not None:
            return refusal
        object_type = request.match_info["object_type"]
        if object_type not in OBJECT_TYPES:
            return _json(404, bodies.unknown_object_type(object_type), headers)
        fault = self.faults.pick()
        if fault is not None:
            self.stats.faults_injected[fault] = self.stats.faults_injected.get(fault, 0) + 1
            refused = self._pre_fault(request, fault, headers)
            if refused is not None:
                return refused
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _json(400, bodies.bad_request(f"Invalid input JSON on line 1: {exc}"), headers)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        count = len(inputs) if isinstance(inputs, list) else 0
        self.stats.inputs_received += count
        if self.latency is not None:
            await asyncio.sleep(self.latency.sample_s(count))
        batch = BatchRequest(body, request_no, requested_at, version, fault)
        try:
            answer = self.processor.create(batch) if op == "create" else self.processor.upsert(batch)
        except MalformedRequest as exc:
            answer = BatchAnswer(400, bodies.bad_request(exc.message))
        self.stats.objects_created += answer.created
        self.stats.objects_updated += answer.updated
        if self.config.answer_delay_ms:
            await asyncio.sleep(self.config.answer_delay_ms / 1000)
        if fault in ANSWER_FAULTS:
            answer = distort(fault, answer, self._irregular_rng)
        elif fault is not None and fault.startswith(("post_", "malformed_")):
            return await self._post_fault(request, fault, answer, headers)
        return _json(answer.status, answer.body, headers)

    async def _read(self, request: web.Request, request_no: int) -> web.Response:
        """``POST .../objects/{objectType}/batch/read`` (v3, 2026-03, 2026-09): by id or by ``idProperty``."""
        headers, refusal = self._admit(request, (READ_SCOPE,))
        if refusal is not None:
            return refusal
        object_type = request.match_info["object_type"]
        if object_type not in OBJECT_TYPES:
            return _json(404, bodies.unknown_object_type(object_type), headers)
        try:
            body = orjson.loads(await request.read())
            inputs = body.get("inputs") if isinstance(body, dict) else None
            if self.latency is not None and isinstance(inputs, list):
                await asyncio.sleep(self.latency.sample_s(len(inputs)))
            inline = request.match_info.get("version") == INLINE_ERRORS_VERSION
            status, answer = read_batch(body, self.store, self.rules, inline_errors=inline, rng=self._read_rng)
        except orjson.JSONDecodeError as exc:
            return _json(400, bodies.bad_request(f"Invalid input JSON on line 1: {exc}"), headers)
        except MalformedRequest as exc:
            return _json(400, bodies.bad_request(exc.message), headers)
        return _json(status, answer, headers)

    def _pre_fault(self, request: web.Request, fault: str, headers: dict[str, str]) -> web.Response | None:
        """The answer of a fault that strikes before the body is read (nothing processed), or None."""
        if fault == "pre_reset":
            return _drop_connection(request)
        if fault == "pre_503":
            return _json(503, bodies.service_unavailable(), self._retry_after(headers))
        if fault == "locked_423":
            return _json(423, bodies.locked(), headers)
        if fault == "migration_477":
            return _json(477, bodies.migration_in_progress(), self._retry_after(headers, default_s=1.0))
        if fault == "teapot_418":
            return _json(418, bodies.teapot(), headers)
        if fault == "too_large_413":
            return web.Response(status=413, text=bodies.gateway_page(413), content_type="text/html")
        return None

    async def _properties(self, request: web.Request, request_no: int) -> web.Response:
        """``GET /crm/v3/properties/{objectType}[/{propertyName}]`` (and the date-versioned path)."""
        headers, refusal = self._admit(request, SCHEMA_SCOPES)
        if refusal is not None:
            return refusal
        object_type = request.match_info["object_type"]
        if object_type not in OBJECT_TYPES:
            return _json(404, bodies.unknown_object_type(object_type), headers)
        # dataSensitivity (spec: default non_sensitive): the other lists need their own scope, named for carts
        # as HubSpot names it for contacts and deals (assumption: the spec names none for carts).
        sensitivity = request.query.get("dataSensitivity", "non_sensitive")
        if sensitivity not in SENSITIVITIES:
            return _json(400, bodies.bad_request(f"dataSensitivity {sensitivity!r}: expected {SENSITIVITIES}"), headers)
        scope = f"crm.objects.carts.{sensitivity}.read"
        token = self._authenticate(request)[0] or ""
        if sensitivity != "non_sensitive" and scope not in self.tokens.get(token, ()):
            return _json(403, bodies.missing_scopes(scope), headers)
        name = request.match_info.get("name")
        if name is None:
            return _json(200, self.schema.properties_json(sensitivity), headers)
        definition = self.schema.definitions.get(name)
        if definition is None or definition.sensitivity != sensitivity:
            return _json(404, bodies.property_not_found(name), headers)
        return _json(200, definition.to_json(), headers)

    async def _validations(self, request: web.Request, request_no: int) -> web.Response:
        """``GET /crm/v3/property-validations/{objectTypeId}[/{propertyName}]`` (and the date-versioned path)."""
        headers, refusal = self._admit(request, SCHEMA_SCOPES)
        if refusal is not None:
            return refusal
        object_type = request.match_info["object_type"]
        if object_type not in OBJECT_TYPES:
            return _json(404, bodies.unknown_object_type(object_type), headers)
        name = request.match_info.get("name")
        if name is None:
            return _json(200, self.schema.validations_json(), headers)
        if name not in self.schema.definitions:
            return _json(404, bodies.property_not_found(name), headers)
        return _json(200, self.schema.property_validations_json(name), headers)

    async def _associate(self, request: web.Request, request_no: int) -> web.Response:
        """``POST /crm/v4/associations/carts/{toObjectType}/batch/create`` (and the 2026-09 path)."""
        headers, refusal = self._admit(request, (WRITE_SCOPE, READ_SCOPE))
        if refusal is not None:
            return refusal
        for name in (request.match_info["object_type"], request.match_info["to_type"]):
            if name not in OBJECT_TYPES and (name == request.match_info["object_type"] or target(name) is None):
                return _json(404, bodies.unknown_object_type(name), headers)
        try:
            body = orjson.loads(await request.read())
            status, answer = link_batch(
                body,
                request.match_info["to_type"],
                self.store,
                self.targets,
                inline_errors="version" in request.match_info,
            )
        except orjson.JSONDecodeError as exc:
            return _json(400, bodies.bad_request(f"Invalid input JSON on line 1: {exc}"), headers)
        except MalformedRequest as exc:
            return _json(400, bodies.bad_request(exc.message), headers)
        return _json(status, answer, headers)

    async def _post_fault(
        self, request: web.Request, fault: str, answer: BatchAnswer, headers: dict[str, str]
    ) -> web.Response:
        """The batch was processed; now the answer fails the way ``fault`` says."""
        if fault == "post_500":
            return _json(500, bodies.server_error(), headers)
        if fault in ("post_502", "post_504"):
            status = 502 if fault == "post_502" else 504
            return web.Response(status=status, text=bodies.gateway_page(status), content_type="text/html")
        if fault == "post_reset":
            return _drop_connection(request)
        if fault == "post_hang":
            try:
                await asyncio.wait_for(self.closing.wait(), self.config.hang_s)
            except TimeoutError:
                pass
            return _drop_connection(request)
        # malformed_2xx: the right status, a body cut off in the middle.
        status = answer.status if 200 <= answer.status < 300 else 201
        data = orjson.dumps(answer.body)
        return web.Response(
            status=status, body=data[: max(1, len(data) // 2)], headers={"Content-Type": JSON_TYPE, **headers}
        )
