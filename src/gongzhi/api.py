"""The JSON API at /api/v1/: sessions for people, `Authorization: Bearer` keys for integrators.

Every error is `{"code": "...", "message": "..."}` (plus `details` where there is more to say).
"""

from __future__ import annotations

import logging

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from gongzhi.core.errors import DomainError
from gongzhi.core.services import authenticate_api_key

logger = logging.getLogger(__name__)


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request, token):
        key = authenticate_api_key(token)
        if key is not None:
            request.principal = key
        return key


class StaffSession(SessionAuth):
    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is not None:
            request.principal = user
        return user


api = NinjaAPI(
    title="共治 Gongzhi API",
    version="1",
    urls_namespace="api",
    auth=[ApiKeyAuth(), StaffSession()],
    docs_url="/docs",
)


def error(request, status: int, code: str, message: str, details=None):
    body = {"code": code, "message": message}
    if details:
        body["details"] = details
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return error(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    details = [
        {"field": ".".join(str(p) for p in e.get("loc", [])[1:]) or None, "message": e.get("msg")}
        for e in exc.errors
    ]
    return error(request, 422, "validation_error", _("请求数据有误"), details)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return error(request, 401, "unauthenticated", _("需要登录或有效的接口密钥"))


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, 404, "not_found", _("找不到请求的对象"))


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    # django-ninja raises these with English text; the only one it raises for us is its CSRF check.
    if exc.status_code == 403:
        return error(request, 403, "csrf_failed", _("跨站请求校验（CSRF）失败，请刷新页面后重试"))
    return error(
        request, exc.status_code, "http_error", _("请求无法处理（HTTP %(s)s）") % {"s": exc.status_code}
    )


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    logger.exception("unhandled API error at %s", request.path)
    return error(request, 500, "server_error", _("系统出现错误，已记录，请稍后重试"))


def _register_routers() -> None:
    from gongzhi.cases.api import router as cases_router
    from gongzhi.core.api import router as core_router
    from gongzhi.deliberation.api import router as deliberation_router
    from gongzhi.people.api import router as people_router

    api.add_router("/", core_router)
    api.add_router("/people", people_router)
    api.add_router("/cases", cases_router)
    api.add_router("/deliberation", deliberation_router)


_register_routers()
