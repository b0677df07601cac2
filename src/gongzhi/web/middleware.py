from django.conf import settings

# Strict: only our own scripts and styles, nothing inline, no framing. Vendored assets make this possible.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "GONGZHI_CSP", POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class RejectNullCharactersMiddleware:
    """A NUL character in a parameter is never meant; PostgreSQL cannot store or compare it, so such
    requests are refused with a clear 400 before they reach a view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._has_nul(request):
            from django.http import JsonResponse
            from django.shortcuts import render
            from django.utils.translation import gettext as _

            message = _("请求中含有不允许的空字符（NUL）")
            if request.path.startswith("/api/"):
                return JsonResponse({"code": "bad_characters", "message": message}, status=400)
            return render(request, "400.html", {"message": message}, status=400)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        params = [request.GET]
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            params.append(request.POST)
        if "\x00" in request.path:
            return True
        if request.content_type == "application/json" and _json_has_nul(request.body):
            return True
        return any(
            "\x00" in key or any("\x00" in v for v in values)
            for query in params
            for key, values in query.lists()
        )


def _json_has_nul(body: bytes) -> bool:
    """Whether a JSON body carries a NUL, raw or escaped as \\u0000 (but not an escaped backslash
    followed by the text "u0000")."""
    if b"\x00" in body:
        return True
    start = body.find(b"\\u0000")
    while start != -1:
        backslashes = len(body[:start]) - len(body[:start].rstrip(b"\\"))
        if backslashes % 2 == 0:
            return True
        start = body.find(b"\\u0000", start + 1)
    return False
