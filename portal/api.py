"""REST API v1 for environments, configuration, teams and the audit log.

One APIView per operation; each validates with its InputSerializer, checks permissions in
portal.permissions and calls the same actions as the pages. Secret values are write-only:
no response ever carries one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import actions, audit, permissions, selectors
from portal.models import MAX_CONFIG_VALUE_LENGTH, ConfigValue, Environment, Role, Team
from portal.pagination import BadCursorError, keyset_page

MASK = "********"


class EnvironmentPagination(CursorPagination):
    ordering = ("position", "slug")


class KeyPagination(CursorPagination):
    ordering = "key"


class NamePagination(CursorPagination):
    ordering = "name"


def _paginated(
    view: APIView, request: Request, queryset: Any, pagination: type[CursorPagination], out: Any
) -> Response:
    paginator = pagination()
    page: list[Any] | None = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(out(page, many=True).data)


def _ctx(request: Request) -> audit.AuditContext:
    return audit.AuditContext.from_request(request._request)


def _raise_as_drf(error: DjangoValidationError) -> None:
    detail = error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
    raise ValidationError(detail) from None


class EnvironmentOutputSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    colour = serializers.CharField()
    mesos_role = serializers.CharField()
    master_urls = serializers.ListField(source="master_url_list", child=serializers.CharField())
    position = serializers.IntegerField()
    mesos_principal = serializers.CharField()
    has_mesos_secret = serializers.BooleanField()


class EnvironmentListApi(APIView):
    OutputSerializer = EnvironmentOutputSerializer

    def get(self, request: Request) -> Response:
        return _paginated(
            self,
            request,
            selectors.environment_list(),
            EnvironmentPagination,
            self.OutputSerializer,
        )


class EnvironmentDetailApi(APIView):
    OutputSerializer = EnvironmentOutputSerializer

    def get(self, request: Request, slug: str) -> Response:
        return Response(self.OutputSerializer(selectors.environment_get(slug)).data)


class ConfigOutputSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    team = serializers.SlugRelatedField[Team](slug_field="slug", read_only=True)
    is_secret = serializers.BooleanField()
    value = serializers.SerializerMethodField(method_name="masked_value")
    updated_by = serializers.SlugRelatedField[Any](slug_field="username", read_only=True)
    updated_at = serializers.DateTimeField()

    def masked_value(self, item: ConfigValue) -> str:
        # The one place a value leaves through the API: secrets only ever as the mask.
        return MASK if item.is_secret else item.value


def _scope(request: Request, slug: str, team_slug: str | None) -> tuple[Environment, Team | None]:
    environment = selectors.environment_get(slug)
    team = selectors.team_get(request.user, team_slug)[0] if team_slug else None
    return environment, team


class ConfigListApi(APIView):
    class FilterSerializer(serializers.Serializer[Any]):
        team = serializers.SlugField(required=False)

    OutputSerializer = ConfigOutputSerializer

    def get(self, request: Request, slug: str) -> Response:
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        environment, team = _scope(request, slug, query.validated_data.get("team"))
        values = selectors.config_list(environment, team)
        return _paginated(self, request, values, KeyPagination, self.OutputSerializer)


@method_decorator(sensitive_post_parameters("value"), name="dispatch")
class ConfigSetApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        key = serializers.CharField(max_length=128)
        value = serializers.CharField(
            allow_blank=True, trim_whitespace=False, max_length=MAX_CONFIG_VALUE_LENGTH
        )
        is_secret = serializers.BooleanField(default=False)
        team = serializers.SlugField(required=False, allow_null=True)

    OutputSerializer = ConfigOutputSerializer

    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        environment, team = _scope(request, slug, fields.pop("team", None))
        permissions.require_config_manager(request.user, team)
        try:
            item = actions.config_value_set(
                ctx=_ctx(request), environment=environment, team=team, **fields
            )
        except DjangoValidationError as error:
            _raise_as_drf(error)
        return Response(self.OutputSerializer(item).data)


class ConfigDeleteApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        key = serializers.CharField(max_length=128)
        team = serializers.SlugField(required=False, allow_null=True)

    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        environment, team = _scope(request, slug, data.validated_data.get("team"))
        permissions.require_config_manager(request.user, team)
        item = selectors.config_get(environment, team, data.validated_data["key"])
        actions.config_value_delete(ctx=_ctx(request), item=item)
        return Response(status=204)


class TeamListApi(APIView):
    class OutputSerializer(serializers.Serializer[Any]):
        slug = serializers.CharField()
        name = serializers.CharField()
        member_count = serializers.IntegerField()
        role = serializers.SerializerMethodField()

        def get_role(self, team: Any) -> str | None:
            # my_role comes annotated by team_list: no query per team.
            if team.my_role:
                return str(team.my_role)
            return (
                Role.ADMIN.value if permissions.is_superuser(self.context["request"].user) else None
            )

    def get(self, request: Request) -> Response:
        paginator = NamePagination()
        page = paginator.paginate_queryset(selectors.team_list(request.user), request, view=self)
        out = self.OutputSerializer(page, many=True, context={"request": request})
        return paginator.get_paginated_response(out.data)


class AuditListApi(APIView):
    class FilterSerializer(serializers.Serializer[Any]):
        actor = serializers.CharField(required=False, max_length=150)
        action = serializers.CharField(required=False, max_length=64)
        object_type = serializers.CharField(required=False, max_length=64)
        team = serializers.SlugField(required=False)
        since = serializers.DateField(required=False)
        until = serializers.DateField(required=False)
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50)

    class OutputSerializer(serializers.Serializer[Any]):
        id = serializers.IntegerField()
        at = serializers.DateTimeField()
        actor = serializers.CharField(source="actor_username")
        action = serializers.CharField()
        object_type = serializers.CharField()
        object_id = serializers.CharField()
        object_repr = serializers.CharField()
        team = serializers.IntegerField(source="team_id")
        remote_addr = serializers.CharField()
        diff = serializers.JSONField()

    def get(self, request: Request) -> Response:
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        team_slug = params.pop("team", None)
        team = selectors.team_get(request.user, team_slug)[0] if team_slug else None
        cursor, limit = params.pop("cursor", None), params.pop("limit")
        entries = selectors.audit_list(request.user, selectors.AuditFilters(team=team, **params))
        try:
            page = keyset_page(entries, cursor=cursor, limit=limit)
        except BadCursorError as error:
            raise ValidationError({"cursor": [str(error)]}) from None
        return Response(
            {
                "next": self._link(request, page.next_cursor),
                "previous": self._link(request, page.prev_cursor),
                "results": self.OutputSerializer(page.items, many=True).data,
            }
        )

    def _link(self, request: Request, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        query = request.query_params.copy()
        query["cursor"] = cursor
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
