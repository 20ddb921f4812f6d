"""Single sign-on through the province's OpenID Connect provider, with Authlib.

``/login/sso`` sends the browser to the provider (authorization code flow with PKCE, a state and a nonce kept in
the signed session cookie); ``/login/sso/callback`` takes the code back, verifies the ID token (the signature by the
keys the provider publishes, found through its discovery document at the first use; the issuer, the audience, the
nonce, the expiry) and reads the provider's userinfo. Then engine.identities says who the person is: they are signed
in with the same server-side session as a local login (web.sign_in), or told that their account waits for an
administrator's confirmation, or that it is deactivated. Anything wrong in the answer is refused with a 4xx page
that says what to do, never a 500. Configured by IOC_OIDC_* (engine.identities); without IOC_OIDC_ISSUER these
pages do not exist and the login page has no SSO button.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, g, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from joserfc.errors import JoseError

from engine import identities
from engine.db import session_factory
from engine.identities import OidcConfig, Outcome
from web.db import db
from web.sign_in import safe_next, start_session

log = logging.getLogger(__name__)
bp = Blueprint("sso", __name__)
EXTENSION = "ioc_sso"
TIMEOUT_S = 10  # for each request to the provider
NEXT_KEY = "sso_next"


class ProviderError(Exception):
    """The provider's answer or discovery document is not what OpenID Connect requires."""


def init_app(app: Flask) -> None:
    """Register the blueprint, and the provider's client when IOC_OIDC_ISSUER is set (ConfigError otherwise)."""
    config = identities.load_config()
    app.extensions[EXTENSION] = None
    if config is not None:
        client = OAuth(app).register(
            "province", client_id=config.client_id, client_secret=config.client_secret,
            server_metadata_url=config.discovery_url,
            client_kwargs={"scope": config.scopes, "code_challenge_method": "S256", "default_timeout": TIMEOUT_S})
        app.extensions[EXTENSION] = (config, client)
    app.register_blueprint(bp)


@bp.app_context_processor
def _sso_button() -> dict[str, Any]:
    return {"sso_enabled": current_app.extensions.get(EXTENSION) is not None}


def _configured() -> tuple[OidcConfig, Any]:
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        abort(404)
    return found  # type: ignore[no-any-return]


def _metadata(config: OidcConfig, client: Any) -> dict[str, Any]:
    """The provider's discovery document (read once, then kept), which must name the configured issuer."""
    metadata: dict[str, Any] = client.load_server_metadata()
    if metadata.get("issuer") != config.issuer:
        raise ProviderError(f"the discovery document names the issuer {metadata.get('issuer')!r}, not "
                            f"IOC_OIDC_ISSUER {config.issuer!r}")
    return metadata


def _page(status: int, *, error: str | None = None, notice: str | None = None) -> Any:
    return render_template("login.html", error=error, notice=notice), status


def _unreachable(exc: Exception) -> Any:
    log.warning("single sign-on: the identity service failed: %s", exc)
    return _page(502, error=_("The identity service cannot be reached now: try again later, or use a local "
                              "account"))


@bp.route("/login/sso")
def start() -> Any:
    config, client = _configured()
    try:
        _metadata(config, client)
        redirect_uri = config.redirect_uri or url_for("sso.callback", _external=True)
        response = client.authorize_redirect(redirect_uri, ui_locales=str(get_locale() or "vi"))
    except (requests.RequestException, ValueError, ProviderError, AuthlibBaseError) as exc:
        return _unreachable(exc)
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    return response


@bp.route("/login/sso/callback")
def callback() -> Any:
    config, client = _configured()
    if request.args.get("iss") not in (None, config.issuer):  # RFC 9207: an answer from another provider
        return _refused(f"the authorization response names the issuer {request.args.get('iss')!r}")
    try:
        _metadata(config, client)
        token = client.authorize_access_token(claims_options={
            "iss": {"essential": True, "values": [config.issuer]},
            "aud": {"essential": True, "values": [config.client_id]}})
        claims = _claims(client, token)
    except MismatchingStateError:
        return _page(400, error=_("This sign-in is not valid or has expired: start again from the login page"))
    except OAuthError as exc:
        if exc.error in ("access_denied", "login_required", "consent_required", "interaction_required"):
            return _page(400, error=_("The identity service did not sign you in: start again from the login page"))
        return _refused(f"{exc.error}: {exc.description}")
    except (AuthlibBaseError, JoseError, ProviderError) as exc:
        return _refused(f"{exc.__class__.__name__}: {exc}")
    except (requests.RequestException, ValueError) as exc:
        return _unreachable(exc)
    _writing_session()
    try:
        result = identities.sign_on(db(), config, claims)
    except identities.NoUserName as exc:
        db().rollback()
        return _page(400, error=_(exc.message, **exc.params))
    next_url = session.pop(NEXT_KEY, None)
    if result.outcome is Outcome.SIGNED_IN:
        return start_session(result.user, next_url, method="sso")
    db().commit()
    if result.outcome is Outcome.PENDING:
        return _page(403, notice=_("Your account waits for an administrator's confirmation. You can sign in once "
                                   "an administrator has confirmed your role and department."))
    return _page(403, error=_("This account is deactivated: ask an administrator"))


def _writing_session() -> None:
    """The callback is a GET that writes (a proposed account, a session): give the request the writing session that
    web.db gives a POST, which on SQLite takes the write lock at its first statement instead of failing to turn a
    read into a write while a worker writes."""
    reading = g.pop("db", None)
    if reading is not None:
        reading.close()
    g.db = session_factory(write=True)()


def _refused(reason: str) -> Any:
    log.warning("single sign-on: the identity service's answer is refused: %s", reason[:300])
    return _page(400, error=_("The identity service's answer could not be verified: start again from the login "
                              "page"))


def _claims(client: Any, token: dict[str, Any]) -> dict[str, Any]:
    """The verified ID token's claims, completed by the provider's userinfo (which must be about the same
    subject); the ID token's own claims win."""
    verified = token.get("userinfo")
    if not verified:
        raise ProviderError("no verified ID token in the token response")
    claims = dict(verified)
    if client.server_metadata.get("userinfo_endpoint"):
        info = dict(client.userinfo(token=token))
        if info.get("sub") != claims["sub"]:
            raise ProviderError("the userinfo is about another subject than the ID token")
        claims = {**info, **claims}
    return claims
