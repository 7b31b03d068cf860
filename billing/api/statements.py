"""`GET /v1/statements` and `GET /v1/statements/{id}`: a tenant's closed monthly statements, as
JSON, CSV (`?format=csv`) or a printable HTML page (`?format=html`). Another tenant's statement
is a 404, like every object of another tenant."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.usage import CSVRenderer, FormatIsAQueryField
from billing.statements import statement_csv_response, statement_html, tenant_statements
from tenants.principal import principal_of


class StatementLineSerializer(serializers.Serializer[Any]):
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price_minor = serializers.IntegerField()
    amount_minor = serializers.IntegerField()


class StatementSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    plan = serializers.CharField(source="plan_name")
    currency = serializers.CharField()
    characters = serializers.IntegerField(help_text="Characters of the records billed here.")
    carried_characters = serializers.IntegerField(
        help_text="Of those, characters of earlier months recorded after their statement closed."
    )
    monthly_character_quota = serializers.IntegerField(allow_null=True)
    total_minor = serializers.IntegerField()
    closed_at = serializers.DateTimeField()
    lines = StatementLineSerializer(many=True, source="lines.all")


class StatementListSerializer(serializers.Serializer[Any]):
    statements = StatementSerializer(many=True)


def _statements(request: Request) -> Any:
    return tenant_statements(principal_of(request).tenant_id)


class StatementListView(APIView):
    parser_classes: list[type] = []
    required_scopes = {"GET": "usage:read"}

    @extend_schema(operation_id="statements_list", responses=StatementListSerializer)
    def get(self, request: Request) -> Response:
        rows = _statements(request)
        return Response({"statements": StatementSerializer(rows, many=True).data})


FORMATS = ("json", "csv", "html")


class StatementDetailView(APIView):
    parser_classes: list[type] = []
    renderer_classes = [JSONRenderer, CSVRenderer, StaticHTMLRenderer]
    content_negotiation_class = FormatIsAQueryField
    required_scopes = {"GET": "usage:read"}

    @extend_schema(
        operation_id="statements_retrieve",
        parameters=[OpenApiParameter("format", str, enum=list(FORMATS), required=False)],
        responses={
            200: StatementSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="format=csv"),
            (200, "text/html"): OpenApiResponse(OpenApiTypes.STR, description="format=html"),
        },
    )
    def get(self, request: Request, statement_id: int) -> HttpResponse | Response:
        statement = _statements(request).filter(pk=statement_id).first()
        if statement is None:
            raise Http404
        kind = request.query_params.get("format", "json")
        if kind not in FORMATS:
            raise serializers.ValidationError({"format": f"One of {', '.join(FORMATS)}."})
        if kind == "csv":
            return statement_csv_response(statement)
        if kind == "html":
            return HttpResponse(statement_html(statement), content_type="text/html; charset=utf-8")
        return Response(StatementSerializer(statement).data)
