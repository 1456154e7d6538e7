"""The Flask application: sign-in, sessions, CSRF, roles and language; the pages themselves are in views.py."""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, abort, g, jsonify, redirect, render_template, request, session, url_for

from engine.store.repos.users import UserRepository, WebUser, verify_password
from engine.web.console import Console
from engine.web.i18n import TEXTS, pick_language, translator
from engine.web.push import PushHub
from engine.web.security import SECURITY_HEADERS, LoginLimiter, csrf_ok, new_csrf_token, role_allows

log = logging.getLogger(__name__)
USER_CACHE_SECONDS = 5.0  # a removed user's session ends within this time
UNSIGNED_PATHS = ("/metrics", "/health")  # engine/web/observe.py


@dataclass
class WebServices:
    """What the web app needs from the engine (built in daemon.py)."""

    console: Console
    users: UserRepository
    hub: PushHub
    clock: Callable[[], float] = time.time
    run_blocking: Callable[..., Any] = lambda fn, *args: fn(*args)  # e.g. the gevent threadpool for scrypt
    _user_cache: dict[str, tuple[float, WebUser | None]] = field(default_factory=dict)

    def user(self, user_id: str) -> WebUser | None:
        now = self.clock()
        cached = self._user_cache.get(user_id)
        if cached is not None and now - cached[0] < USER_CACHE_SECONDS:
            return cached[1]
        found = self.users.get(user_id)
        if len(self._user_cache) > 10_000:
            self._user_cache.clear()
        self._user_cache[user_id] = (now, found)
        return found


def create_app(services: WebServices, config: Any, secret_key: bytes) -> Flask:
    """The WSGI app for `config` (engine.config.WebSection)."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key, SESSION_COOKIE_NAME="jq_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=bool(config.cookie_secure), SESSION_COOKIE_SAMESITE=config.cookie_samesite,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=config.session_hours), MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False)
    limiter = LoginLimiter(config.login_attempts, config.login_window)
    app.extensions["jinqiao"] = services

    @app.before_request
    def load_user() -> Any:
        g.user = None
        if request.path in UNSIGNED_PATHS:  # read-only, no session: a scraper gets no cookie
            return None
        uid = session.get("uid")
        if uid:
            user = services.user(uid)
            if user is None or not user.active or user.role != session.get("role"):
                session.clear()
            else:
                g.user = user
        g.lang = pick_language(session.get("lang") or (g.user.language if g.user else None),
                               request.headers.get("Accept-Language"))
        g.t = translator(g.lang)
        # REST API calls that carry their own credentials (a Bearer token) need no cookie and no CSRF token.
        api_credentials = request.path.startswith("/api/v1/") and "Authorization" in request.headers
        if "csrf" not in session and not api_credentials:
            session["csrf"] = new_csrf_token()
        if request.method not in ("GET", "HEAD", "OPTIONS") and not api_credentials:
            given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
            if not csrf_ok(session.get("csrf"), given):
                log.info("web: refused a %s to %s without a valid CSRF token", request.method, request.path)
                return _refuse(403, "csrf")
        return None

    @app.after_request
    def headers(response: Any) -> Any:
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        return {"t": g.t, "lang": g.lang, "user": g.user, "csrf_token": session.get("csrf", "")}

    @app.errorhandler(403)
    def forbidden(_error: Any) -> Any:
        return _refuse(403, "forbidden")

    @app.get("/login")
    def login_page() -> Any:
        return render_template("login.html", error=None)

    @app.post("/login")
    def login() -> Any:
        user_id = (request.form.get("user_id") or "").strip()[:64]
        password = request.form.get("password") or ""
        now = services.clock()
        keys = (f"user:{user_id.lower()}", f"addr:{request.remote_addr}")
        if limiter.blocked(keys, now):
            log.warning("web: sign-in refused for a while after repeated failures (user %s)", user_id)
            return render_template("login.html", error="too_many"), 429
        user = services.users.authenticate(
            user_id, password, verify=lambda given, stored: services.run_blocking(verify_password, given, stored))
        if user is None:
            limiter.failed(keys, now)
            log.info("web: failed sign-in for user %s", user_id)
            return render_template("login.html", error="bad_login"), 401
        limiter.succeeded(keys)
        session.clear()  # a new session id and CSRF token after sign-in (no fixation)
        session.permanent = True
        session.update(uid=user.id, role=user.role, csrf=new_csrf_token())
        if user.language:
            session["lang"] = user.language
        services._user_cache.pop(user.id, None)
        log.info("web: user %s signed in (%s)", user.id, user.role)
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return redirect(url_for("login_page"))

    @app.post("/language")
    def language() -> Any:
        session["lang"] = "en" if g.lang == "zh" else "zh"
        if g.user is not None:
            services.users.set_language(g.user.id, session["lang"])
            services._user_cache.pop(g.user.id, None)
        target = request.form.get("next") or "/"
        return redirect(target if target.startswith("/") and not target.startswith("//") else "/")

    @app.get("/")
    def home() -> Any:
        if g.user is None:
            return redirect(url_for("login_page"))
        if g.user.role == "agent":
            return redirect(url_for("views.console_page"))
        return redirect(url_for("views.wallboard_page"))

    from engine.web.views import views
    from engine.api.blueprint import api
    app.register_blueprint(views)
    app.register_blueprint(api)
    from engine.web.reports_pages import reports_pages
    app.register_blueprint(reports_pages)
    return app


def require(*roles: str) -> WebUser:
    """The signed-in user when their role allows; else a redirect to sign-in (401) or 403."""
    user = g.user
    if user is None:
        abort(401)
    if not role_allows(user.role, roles):
        log.info("web: user %s (%s) refused %s", user.id, user.role, request.path)
        abort(403)
    return user


def _refuse(status: int, key: str) -> Any:
    wants_json = request.path.startswith("/api/") or request.headers.get("X-CSRF-Token") is not None \
        or request.accept_mimetypes.best == "application/json"
    text = TEXTS.get(key, {}).get(getattr(g, "lang", "en"), key) if key != "csrf" else "CSRF token missing or wrong"
    if wants_json:
        return jsonify({"error": key, "message": text}), status
    return render_template("forbidden.html", message=text), status
