"""Machines' bearer tokens (administrators, people only): list with scopes, expiry and last use; make one
(shown once); revoke."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine import scopes, tokens
from engine.errors import N_, NotFound
from engine.models import ApiToken
from web.api.schemas import Strict, code_of
from web.auth import api_auth, principal
from web.db import db

PREFIX = "/tokens"
blp = Blueprint("tokens", __name__, description="Machines' bearer tokens and their scopes")


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String(attribute="role_code")
    department = code_of("department.code")
    scopes = fields.List(fields.String())
    sources = fields.List(fields.String(), allow_none=True)
    created_at = fields.DateTime()
    created_by = fields.String(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenIn(Strict):
    name = fields.String(required=True, validate=validate.Length(1, 80))
    role = fields.String(required=True, validate=validate.Length(1, 20))
    department = fields.String(load_default=None, validate=validate.Length(max=40))
    scopes = fields.List(fields.String(validate=validate.OneOf(list(scopes.SCOPES))), required=True,
                         validate=validate.Length(1, len(scopes.SCOPES)))
    sources = fields.List(fields.String(validate=validate.Length(1, 100)), load_default=None,
                          validate=validate.Length(max=100))
    days = fields.Integer(load_default=tokens.DEFAULT_DAYS, allow_none=True,
                          validate=validate.Range(1, tokens.MAX_DAYS),
                          metadata={"description": "days until it expires; null: never"})


class TokenMade(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "shown this once; only its SHA-256 is kept"})


@blp.route("")
class Tokens(MethodView):
    @api_auth("admin", scope=None)
    @blp.response(200, TokenOut(many=True))
    def get(self) -> list[ApiToken]:
        """Every token, newest first, with its scopes, expiry and last use (never the token itself)."""
        return list(db().scalars(select(ApiToken).order_by(ApiToken.id.desc()).limit(1000)))

    @api_auth("admin", scope=None)
    @blp.arguments(TokenIn)
    @blp.response(201, TokenMade)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Make a token with the scopes it needs; the answer shows it once."""
        token = tokens.create_token(db(), args["name"], args["role"], department_code=args["department"],
                                    actor=principal().name, scope_list=args["scopes"], sources=args["sources"],
                                    days=args["days"])
        row = tokens.lookup(db(), token)
        db().commit()
        return {"id": row.id if row else None, "token": token}


@blp.route("/<int(max=2147483647):token_id>")
class OneToken(MethodView):
    @api_auth("admin", scope=None)
    @blp.response(204)
    def delete(self, token_id: int) -> None:
        """Revoke a token: it is refused from the next request on."""
        row = db().get(ApiToken, token_id)
        if row is None:
            raise NotFound(N_("No token with id %(id)s"), id=token_id)
        tokens.revoke(db(), row, actor=principal().name)
        db().commit()
