"""Error pages in the user's language, JSON for API clients."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


class ServiceError(Exception):
    """A rule a user's action broke; views show ``message`` (already translated) with a 4xx status."""

    status_code = 400

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class PermissionDenied(ServiceError):
    status_code = 403


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def _titles() -> dict[int, str]:
    return {
        400: _("请求有误"),
        401: _("请先登录"),
        403: _("没有权限访问此页面"),
        404: _("页面不存在"),
        405: _("不支持的请求方式"),
        413: _("上传的文件太大"),
        429: _("操作过于频繁，请稍后再试"),
        500: _("服务器出错了"),
    }


def render_error(status: int, message: str | None = None):
    title = _titles().get(status, _("出错了"))
    if _wants_json():
        return jsonify(error=title, message=message or title, status=status), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        message = exc.description if exc.code in (400, 403) and isinstance(exc.description, str) else None
        if message and message.startswith(("You don't have", "The browser", "The server could not")):
            message = None  # werkzeug's English defaults; the page title already says it in the user's language
        return render_error(exc.code or 500, message)

    @app.errorhandler(ServiceError)
    def handle_service_error(exc: ServiceError):
        return render_error(exc.status_code, exc.message)

    @app.errorhandler(500)
    def handle_unexpected(exc):
        # Flask logs the original exception before calling this; testing re-raises it instead.
        from marketplace.extensions import db

        db.session.rollback()
        return render_error(500)
