"""Units, departments and users (read)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from engine.models import Department, Unit, User
from web.api.schemas import DepartmentOut, Page, UnitOut, UserOut
from web.auth import api_auth
from web.db import db

PREFIX = ""
blp = Blueprint("organisation", __name__, description="Administrative units, departments, users")


@blp.route("/units")
class Units(MethodView):
    @api_auth()
    @blp.arguments(Page, location="query")
    @blp.response(200, UnitOut(many=True))
    def get(self, args: dict[str, Any]) -> list[Unit]:
        """The province and its 166 communes and wards (codes of the 1 July 2025 reform)."""
        stmt = select(Unit).order_by(Unit.id)
        if args.get("kind"):
            stmt = stmt.where(Unit.kind == args["kind"])
        return list(db().scalars(stmt.limit(args["limit"]).offset(args["offset"])))


@blp.route("/departments")
class Departments(MethodView):
    @api_auth()
    @blp.arguments(Page, location="query")
    @blp.response(200, DepartmentOut(many=True))
    def get(self, args: dict[str, Any]) -> list[Department]:
        """Provincial departments (sở, ban, ngành) and the People's Committees of communes and wards."""
        stmt = select(Department).order_by(Department.kind, Department.id)
        if args.get("kind"):
            stmt = stmt.where(Department.kind == args["kind"])
        return list(db().scalars(stmt.limit(args["limit"]).offset(args["offset"])))


@blp.route("/users")
class Users(MethodView):
    @api_auth("admin")
    @blp.arguments(Page, location="query")
    @blp.response(200, UserOut(many=True))
    def get(self, args: dict[str, Any]) -> list[User]:
        """Users (administrators only)."""
        stmt = select(User).order_by(User.id).limit(args["limit"]).offset(args["offset"])
        return list(db().scalars(stmt))
