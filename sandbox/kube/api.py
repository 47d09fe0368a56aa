"""The resource verbs behind the REST paths: get, list, create, update, patch, apply, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ApiError, bad_request, method_not_allowed, unsupported_media_type
from .patching import json_patch, merge_patch, strategic_merge_patch
from .resources import ResourceType
from .routing import Request, Response, WatchStream, field_manager, parse_body, truthy
from .scale import scale_of, with_scale
from .selectors import Predicate, field_selector, label_selector
from .store import Object, ObjectStore
from .tables import table
from .validation.fieldlabels import check_field_selector
from .validation.fields import handle_unknown, mode_of


class ResourceApi:
    """Executes one request against the store; raises :class:`ApiError` for failures."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def handle(self, request: Request) -> Response | WatchStream:
        route = request.route
        method = request.method
        if route.subresource == "scale":
            return self._scale(request)
        if method == "GET":
            if route.name is not None:
                obj = self.store.get_object(route.rtype, route.namespace or "", route.name)
                return Response(200, self._table([obj], request) if request.as_table else obj)
            if truthy(request.query.get("watch")):
                return self._watch(request)
            return Response(200, self._list(request))
        if method == "POST" and route.name is None:
            return self._create(request)
        if method == "PUT" and route.name is not None:
            return self._replace(request)
        if method == "PATCH" and route.name is not None:
            return self._patch(request)
        if method == "DELETE":
            return (
                self._delete(request)
                if route.name is not None
                else self._delete_collection(request)
            )
        raise method_not_allowed()

    def _predicate(self, request: Request) -> Predicate:
        by_label = label_selector(request.query.get("labelSelector"))
        check_field_selector(request.route.rtype, request.query.get("fieldSelector"))
        by_field = field_selector(request.query.get("fieldSelector"))
        return lambda obj: by_label(obj) and by_field(obj)

    def _list(self, request: Request) -> Object:
        route = request.route
        items, rv = self.store.list_objects(route.rtype, route.namespace, self._predicate(request))
        metadata: dict[str, Any] = {"resourceVersion": rv}
        limit = _number(request.query.get("limit"), "limit")
        start = _number(request.query.get("continue"), "continue")
        if limit > 0:
            page = items[start : start + limit]
            if start + limit < len(items):
                metadata["continue"] = str(start + limit)
                metadata["remainingItemCount"] = len(items) - start - limit
            items = page
        if request.as_table:
            return self._table(items, request, metadata)
        return {
            "kind": route.rtype.list_kind,
            "apiVersion": route.rtype.api_version,
            "metadata": metadata,
            "items": items,
        }

    def _watch(self, request: Request) -> WatchStream:
        route = request.route
        watcher = self.store.watch_objects(
            route.rtype,
            route.namespace,
            self._predicate(request),
            resource_version=request.query.get("resourceVersion"),
            send_initial_events=truthy(request.query.get("sendInitialEvents")),
        )
        timeout = _number(request.query.get("timeoutSeconds"), "timeoutSeconds") or 1800
        render = (lambda obj: self._table([obj], request)) if request.as_table else None
        return WatchStream(watcher, route.rtype, timeout, render)

    def _table(
        self, items: list[Object], request: Request, metadata: Object | None = None
    ) -> Object:
        include = request.query.get("includeObject") or "Metadata"
        return table(request.route.rtype, items, include_object=include, list_metadata=metadata)

    def _body_object(self, request: Request, *, kind: str | None = None) -> Object:
        body = parse_body(request)
        if not isinstance(body, dict):
            raise bad_request("the request body must be an object")
        route = request.route
        expected = kind or route.rtype.kind
        if body.get("kind") not in (None, expected):
            raise bad_request(
                f"the kind of the object ({body.get('kind')}) does not match the kind on the URL ({expected})"
            )
        namespace = (body.get("metadata") or {}).get("namespace")
        if route.rtype.namespaced and namespace and namespace != route.namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        return body

    def _known_fields(self, request: Request, body: Any, verb: str) -> Any:
        """Apply the request's fieldValidation to ``body``: 400, warnings, or silent pruning."""
        route = request.route
        if route.subresource == "scale":
            return body
        name = route.name or ((body or {}).get("metadata") or {}).get("name", "")
        return handle_unknown(
            route.rtype,
            body,
            self.store.schema_node(route.rtype),
            mode=mode_of(request.query),
            verb=verb,
            ident=f"{route.namespace or ''}/{name}",
        )

    def _create(self, request: Request) -> Response:
        route = request.route
        if route.rtype.namespaced and route.namespace is None:
            raise method_not_allowed("create needs a namespace in the path")
        body = self._known_fields(request, self._body_object(request), "create")
        created = self.store.create_object(
            route.rtype,
            route.namespace or "",
            body,
            manager=field_manager(request),
            dry_run=bool(request.query.get("dryRun")),
        )
        return Response(201, created)

    def _replace(self, request: Request) -> Response:
        route = request.route
        assert route.name is not None
        body = self._known_fields(request, self._body_object(request), "update")
        body_name = (body.get("metadata") or {}).get("name")
        if body_name != route.name:
            raise bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({route.name})"
            )
        updated = self.store.replace_object(
            route.rtype,
            route.namespace or "",
            route.name,
            body,
            manager=field_manager(request),
            subresource=route.subresource,
            dry_run=bool(request.query.get("dryRun")),
        )
        return Response(200, updated)

    def _patch(self, request: Request) -> Response:
        route = request.route
        assert route.name is not None
        media = request.content_type.split(";")[0].strip().lower()
        dry_run = bool(request.query.get("dryRun"))
        if media == "application/apply-patch+yaml":
            manager = request.query.get("fieldManager")
            if not manager:
                raise ApiError(
                    422,
                    "Invalid",
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                )
            body = self._known_fields(request, parse_body(request), "apply")
            obj, created = self.store.apply_object(
                route.rtype,
                route.namespace or "",
                route.name,
                body,
                manager=manager,
                force=truthy(request.query.get("force")),
                subresource=route.subresource,
                dry_run=dry_run,
            )
            return Response(201 if created else 200, obj)
        patch = parse_body(request, yaml_ok=False)
        patcher = _patcher(media, patch, route.rtype)

        def change(live: Object) -> Object:
            return self._known_fields(request, patcher(live), "patch")  # type: ignore[no-any-return]

        updated = self.store.mutate_object(
            route.rtype,
            route.namespace or "",
            route.name,
            change,
            manager=field_manager(request),
            subresource=route.subresource,
            dry_run=dry_run,
        )
        return Response(200, updated)

    def _scale(self, request: Request) -> Response:
        """GET, PUT or PATCH ``.../scale``: a Scale view over ``spec.replicas``."""
        route = request.route
        assert route.name is not None
        namespace, name = route.namespace or "", route.name
        if request.method == "GET":
            return Response(200, scale_of(self.store.get_object(route.rtype, namespace, name)))
        if request.method == "PUT":
            wanted = self._body_object(request, kind="Scale")

            def change(live: Object) -> Object:
                return with_scale(live, wanted)
        elif request.method == "PATCH":
            media = request.content_type.split(";")[0].strip().lower()
            patch = parse_body(request, yaml_ok=media == "application/apply-patch+yaml")
            if media == "application/apply-patch+yaml":
                patch = {"spec": (patch or {}).get("spec")}
                media = "application/merge-patch+json"
            patch_scale = _patcher(media, patch, route.rtype)

            def change(live: Object) -> Object:
                return with_scale(live, patch_scale(scale_of(live)))
        else:
            raise method_not_allowed()
        updated = self.store.mutate_object(
            route.rtype,
            namespace,
            name,
            change,
            manager=field_manager(request),
            dry_run=bool(request.query.get("dryRun")),
        )
        return Response(200, scale_of(updated))

    def _delete_options(self, request: Request) -> Object:
        try:
            body = parse_body(request)
        except ApiError:
            body = None  # e.g. DeleteOptions in protobuf: the defaults will do
        options: Object = body if isinstance(body, dict) else {}
        for key in ("dryRun", "propagationPolicy", "gracePeriodSeconds"):
            if key in request.query:
                options[key] = request.query[key]
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "{policy}"',
            )
        return options

    def _delete(self, request: Request) -> Response:
        route = request.route
        assert route.name is not None
        if route.subresource:
            raise method_not_allowed()
        options = self._delete_options(request)
        obj, gone = self.store.delete_object(
            route.rtype,
            route.namespace or "",
            route.name,
            preconditions=options.get("preconditions"),
            dry_run=bool(options.get("dryRun")),
            propagation=options.get("propagationPolicy"),
        )
        if not gone:
            return Response(200, obj)
        details: dict[str, Any] = {
            "name": route.name,
            "kind": route.rtype.plural,
            "uid": obj["metadata"]["uid"],
        }
        if route.rtype.group:
            details["group"] = route.rtype.group
        return Response(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            },
        )

    def _delete_collection(self, request: Request) -> Response:
        route = request.route
        options = self._delete_options(request)
        items, _ = self.store.list_objects(route.rtype, route.namespace, self._predicate(request))
        deleted = []
        for item in items:
            meta = item["metadata"]
            try:
                obj, _ = self.store.delete_object(
                    route.rtype,
                    meta.get("namespace", ""),
                    meta["name"],
                    dry_run=bool(options.get("dryRun")),
                    propagation=options.get("propagationPolicy"),
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise
                continue
            deleted.append(obj)
        return Response(
            200,
            {
                "kind": route.rtype.list_kind,
                "apiVersion": route.rtype.api_version,
                "metadata": {},
                "items": deleted,
            },
        )


def _number(value: str | None, name: str) -> int:
    """A non-negative integer query parameter (0 when absent); continue tokens are offsets."""
    if not value:
        return 0
    if not value.isdigit():
        raise bad_request(f"invalid {name} parameter {value!r}")
    return int(value)


def _patcher(media: str, patch: Any, rtype: ResourceType) -> Callable[[Object], Object]:
    """The function that applies a JSON, merge or strategic merge ``patch`` to an object."""
    if patch is not None and not isinstance(patch, (dict, list)):
        raise bad_request("the patch must be a JSON object or array")
    if media == "application/json-patch+json":
        return lambda live: json_patch(live, patch)
    if media == "application/merge-patch+json":
        return lambda live: merge_patch(live, patch)
    if media == "application/strategic-merge-patch+json":
        if rtype.custom:
            raise unsupported_media_type(
                f"{media}: strategic merge patch is not supported for custom resources"
            )
        return lambda live: strategic_merge_patch(live, patch)
    raise unsupported_media_type(media)
