"""Issue 18, point 5: administrators manage people and departments in the browser (/admin) and through the API;
every change is audited with its actor; an officer never exists without a department; the last active
administrator stays."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.db import transaction
from engine.models import Department, User
from tests import factories
from tests.test_sign_in import audit_actions, logged_in, page_csrf, sign_in


def form_csrf(client, path: str) -> str:  # type: ignore[no-untyped-def]
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def user_named(name: str) -> User:
    with transaction() as s:
        user = s.scalar(select(User).where(User.username == name))
        s.expunge_all()
        return user


def temporary_of(html: str) -> str:
    return re.search(r'id="temporary-password">([^<]+)<', html).group(1)


def test_an_administrator_adds_an_officer_in_the_form_and_resets_their_password(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="qt-form")
    admin = logged_in(app, "qt-form")
    csrf = form_csrf(admin, "/admin/users/new")
    form = {"csrf_token": csrf, "username": "cv-moi", "full_name": "Trần Thị Mai", "role": "officer",
            "department": "", "email": "mai@thanhhoa.gov.vn"}
    refused = admin.post("/admin/users/new", data=form)
    assert refused.status_code == 422
    assert "Chuyên viên phải thuộc một sở, ngành" in refused.get_data(as_text=True)
    assert user_named("cv-moi") is None

    made = admin.post("/admin/users/new", data={**form, "department": "SO-NNMT"})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    first = temporary_of(made.get_data(as_text=True))
    person = user_named("cv-moi")
    assert person.must_change_password and person.department_id is not None and person.email == "mai@thanhhoa.gov.vn"
    listing = admin.get("/admin/users?q=mai&role=officer&active=1").get_data(as_text=True)
    assert "cv-moi" in listing and "Chuyên viên" in listing and "Sở Nông nghiệp và Môi trường" in listing
    officer = app.test_client()
    assert sign_in(officer, "cv-moi", first).headers["Location"] == "/account/password"

    reset = admin.post(f"/admin/users/{person.id}/password-reset", data={"csrf_token": csrf})
    second = temporary_of(reset.get_data(as_text=True))
    assert second != first
    assert officer.get("/account/password").status_code == 302  # the reset ended their session
    assert sign_in(app.test_client(), "cv-moi", second).status_code == 302
    assert second not in admin.get(f"/admin/users/{person.id}").get_data(as_text=True)  # shown once only
    rows = audit_actions()
    assert ("qt-form", "user.created") in [(a, b) for a, b, _d in rows]
    assert ("qt-form", "user.password_reset") in [(a, b) for a, b, _d in rows]
    assert first not in str(rows) and second not in str(rows)


def test_the_api_adds_users_and_refuses_an_officer_without_a_department(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="qt-api")
    admin = logged_in(app, "qt-api")
    headers = {"X-CSRFToken": page_csrf(admin)}
    refused = admin.post("/api/v1/users", json={"username": "cv-api", "role": "officer"}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["code"] == "department_required"
    unknown = admin.post("/api/v1/users", json={"username": "cv-api", "role": "leader", "admin": True},
                         headers=headers)
    assert unknown.status_code == 422 and "admin" in unknown.get_json()["details"]["fields"]
    made = admin.post("/api/v1/users", json={"username": "cv-api", "role": "officer", "department": "SO-NNMT",
                                             "full_name": "Lê Văn Hùng"}, headers=headers)
    assert made.status_code == 201
    body = made.get_json()
    assert body["user"]["department"] == "SO-NNMT" and body["user"]["must_change_password"] is True
    temporary = body["temporary_password"]
    assert sign_in(app.test_client(), "cv-api", temporary).headers["Location"] == "/account/password"
    chosen = admin.post("/api/v1/users", json={"username": "ld-api", "role": "leader",
                                               "password": "một mật khẩu dài đủ"}, headers=headers).get_json()
    assert chosen["temporary_password"] is None and chosen["user"]["must_change_password"] is False
    again = admin.post("/api/v1/users", json={"username": "ld-api", "role": "leader"}, headers=headers)
    assert again.status_code == 409
    # an officer cannot lose their department afterwards either
    patch = admin.patch(f"/api/v1/users/{body['user']['id']}", json={"department": None}, headers=headers)
    assert patch.status_code == 422 and patch.get_json()["code"] == "department_required"
    rows = audit_actions()
    assert [d["username"] for a, b, d in rows if b == "user.created" and a == "qt-api"] == ["cv-api", "ld-api"]
    assert temporary not in str(rows) and "một mật khẩu dài đủ" not in str(rows)


def test_a_new_role_or_department_ends_the_persons_sessions(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="qt-role")
    person = factories.user("officer", name="cv-role")
    admin = logged_in(app, "qt-role")
    phone = logged_in(app, "cv-role")
    resp = admin.patch(f"/api/v1/users/{person.user_id}", json={"role": "leader", "department": "VP-UBND"},
                       headers={"X-CSRFToken": page_csrf(admin)})
    assert resp.status_code == 200 and resp.get_json()["role"] == "leader"
    assert phone.get("/api/v1/tasks").status_code == 401
    desk = logged_in(app, "cv-role")
    csrf = form_csrf(admin, f"/admin/users/{person.user_id}")
    saved = admin.post(f"/admin/users/{person.user_id}", data={
        "csrf_token": csrf, "full_name": "Phạm Văn Dũng", "role": "leader", "department": "SO-TC",
        "email": ""})
    assert saved.status_code == 302
    assert desk.get("/api/v1/tasks").status_code == 401
    name_only = logged_in(app, "cv-role")
    admin.post(f"/admin/users/{person.user_id}", data={"csrf_token": csrf, "full_name": "Phạm Dũng",
                                                        "role": "leader", "department": "SO-TC"})
    assert name_only.get("/api/v1/tasks").status_code == 200  # a new name changes no right
    refused = admin.post(f"/admin/users/{person.user_id}", data={"csrf_token": csrf, "full_name": "Phạm Dũng",
                                                                  "role": "officer", "department": ""})
    assert refused.status_code == 422 and "Chuyên viên phải thuộc" in refused.get_data(as_text=True)
    changes = [d["changes"] for a, b, d in audit_actions() if b == "user.updated" and a == "qt-role"]
    assert changes == [{"role": ["officer", "leader"], "department": ["SO-NNMT", "VP-UBND"]},
                       {"full_name": ["cv-role", "Phạm Văn Dũng"], "department": ["VP-UBND", "SO-TC"]},
                       {"full_name": ["Phạm Văn Dũng", "Phạm Dũng"]}]


def test_deactivate_reactivate_sign_out_and_the_last_administrator(app) -> None:  # type: ignore[no-untyped-def]
    me = factories.user("admin", "TT-IOC", name="qt-last")
    person = factories.user("operator", "TT-IOC", name="tb-off")
    admin = logged_in(app, "qt-last")
    csrf = form_csrf(admin, f"/admin/users/{person.user_id}")
    work = logged_in(app, "tb-off")
    admin.post(f"/admin/users/{person.user_id}/sessions/end", data={"csrf_token": csrf})
    assert work.get("/api/v1/tasks").status_code == 401
    assert admin.post(f"/admin/users/{person.user_id}/active", data={"csrf_token": csrf, "active": "0"}
                      ).status_code == 302
    assert sign_in(app.test_client(), "tb-off").status_code == 401
    assert "badge escalated" in admin.get("/admin/users?active=0").get_data(as_text=True)
    admin.post(f"/admin/users/{person.user_id}/active", data={"csrf_token": csrf, "active": "1"})
    assert sign_in(app.test_client(), "tb-off").status_code == 302

    alone = admin.post(f"/admin/users/{me.user_id}/active", data={"csrf_token": csrf, "active": "0"})
    assert alone.status_code == 409 and "qt-last" in alone.get_data(as_text=True)
    demote = admin.patch(f"/api/v1/users/{me.user_id}", json={"role": "leader"},
                         headers={"X-CSRFToken": page_csrf(admin)})
    assert demote.status_code == 409 and demote.get_json()["code"] == "last_admin"
    assert "qt-last" in demote.get_json()["message"]
    factories.user("admin", "TT-IOC", name="qt-other")
    demote = admin.patch(f"/api/v1/users/{me.user_id}", json={"role": "leader"},
                         headers={"X-CSRFToken": page_csrf(admin)})
    assert demote.status_code == 200  # another administrator remains
    actions = [(a, b) for a, b, _d in audit_actions()]
    assert ("qt-last", "user.deactivated") in actions and ("qt-last", "user.reactivated") in actions
    assert ("qt-last", "user.sessions_ended") in actions


def test_departments_are_added_and_edited(app) -> None:  # type: ignore[no-untyped-def]
    factories.user("admin", "TT-IOC", name="qt-dept")
    admin = logged_in(app, "qt-dept")
    headers = {"X-CSRFToken": page_csrf(admin)}
    made = admin.post("/api/v1/departments", json={"code": "BQL-KKT", "name": "Ban Quản lý Khu kinh tế Nghi Sơn",
                                                   "name_en": "Nghi Son Economic Zone Authority"}, headers=headers)
    assert made.status_code == 201 and made.get_json()["kind"] == "agency"
    dept_id = made.get_json()["id"]
    assert admin.post("/api/v1/departments", json={"code": "BQL-KKT", "name": "x"}, headers=headers
                      ).status_code == 409
    assert admin.patch(f"/api/v1/departments/{dept_id}", json={"code": "X"}, headers=headers).status_code == 422
    changed = admin.patch(f"/api/v1/departments/{dept_id}", json={"unit": "14758"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["unit"] == "14758"

    csrf = form_csrf(admin, "/admin/departments")
    page = admin.post("/admin/departments", data={"csrf_token": csrf, "code": "so-dl", "name": "Sở Du lịch",
                                                  "name_en": "", "kind": "agency", "unit": ""})
    assert page.status_code == 302
    with transaction() as s:
        new = s.scalar(select(Department).where(Department.code == "SO-DL"))
        assert new is not None and new.name_en == "Sở Du lịch"
        new_id = new.id
    edited = admin.post(f"/admin/departments/{new_id}", data={"csrf_token": csrf, "name": "Sở Văn hóa và Du lịch",
                                                              "name_en": "Department of Culture and Tourism",
                                                              "kind": "agency", "unit": ""})
    assert edited.status_code == 302
    listing = admin.get("/admin/departments?q=du+l").get_data(as_text=True)
    assert "Sở Văn hóa và Du lịch" in listing
    rows = [(a, b, d) for a, b, d in audit_actions() if b.startswith("department.")]
    assert [(a, b) for a, b, _d in rows] == [("qt-dept", "department.created"), ("qt-dept", "department.updated"),
                                             ("qt-dept", "department.created"), ("qt-dept", "department.updated")]
    assert rows[1][2]["changes"] == {"unit": [None, "14758"]}


ADMIN_PAGES = ("/admin", "/admin/users", "/admin/users/new", "/admin/departments")


@pytest.mark.parametrize("role", ["leader", "officer", "operator", "designer"])
def test_only_administrators_reach_the_administration(app, role: str) -> None:  # type: ignore[no-untyped-def]
    someone = factories.user(role, "TT-IOC" if role != "officer" else None, name=f"{role}-x")
    client = logged_in(app, f"{role}-x")
    csrf = page_csrf(client)
    paths = [*ADMIN_PAGES, f"/admin/users/{someone.user_id}"]
    assert [client.get(p).status_code for p in paths] == [403] * len(paths)
    posts = [f"/admin/users/{someone.user_id}/active", f"/admin/users/{someone.user_id}/password-reset",
             f"/admin/users/{someone.user_id}/sessions/end", "/admin/departments", "/admin/users/new"]
    assert [client.post(p, data={"csrf_token": csrf}).status_code for p in posts] == [403] * len(posts)
    headers = {"X-CSRFToken": csrf}
    api = [client.post("/api/v1/users", json={"username": "x", "role": "admin"}, headers=headers),
           client.patch(f"/api/v1/users/{someone.user_id}", json={"role": "admin"}, headers=headers),
           client.post("/api/v1/departments", json={"code": "X", "name": "x"}, headers=headers),
           client.patch("/api/v1/departments/1", json={"name": "x"}, headers=headers)]
    assert [r.status_code for r in api] == [403] * len(api)
    assert "/admin" not in client.get("/inbox").get_data(as_text=True)


def test_a_first_single_sign_on_is_confirmed_on_the_administration_page(app) -> None:  # type: ignore[no-untyped-def]
    from engine.models import UserIdentity
    from engine.org import add_user, temporary_password

    with transaction() as s:
        waiting = add_user(s, "nguyenvanb", "officer", temporary_password(), department_code="SO-NNMT",
                           full_name="Nguyễn Văn Bình", actor="sso")
        waiting.active = False
        s.add(UserIdentity(user_id=waiting.id, issuer="https://sso.thanhhoa.gov.vn", subject="b.nguyen"))
        waiting_id = waiting.id
    factories.user("admin", "TT-IOC", name="quantri-sso")
    admin = logged_in(app, "quantri-sso")
    page = admin.get("/admin").get_data(as_text=True)
    assert "nguyenvanb" in page and "Nguyễn Văn Bình" in page
    csrf = form_csrf(admin, "/admin")
    refused = admin.post(f"/admin/users/{waiting_id}/confirm", data={"role": "officer", "department": "",
                                                                   "csrf_token": csrf}, follow_redirects=True)
    assert "phải thuộc" in refused.get_data(as_text=True) and user_named("nguyenvanb").active is False
    admin.post(f"/admin/users/{waiting_id}/confirm", data={"role": "officer", "department": "SO-XD",
                                                         "csrf_token": csrf})
    confirmed = user_named("nguyenvanb")
    assert confirmed.active is True and confirmed.department_id is not None
    assert ("quantri-sso", "user.confirmed") in [(a, b) for a, b, _ in audit_actions()]
    assert admin.get("/admin").get_data(as_text=True).count("id=\"admin-waiting\"") == 0
