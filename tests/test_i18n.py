"""Vietnamese first: every message the code shows has a Vietnamese translation; English is available."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import ROOT

KEYWORDS = {k: None for k in ("_", "gettext", "N_", "EngineError", "Invalid", "Forbidden", "Conflict", "NotFound",
                              "Unauthorized", "DeployError")}
METHODS = [("engine/**.py", "python"), ("web/**.py", "python"), ("web/templates/**.html", "jinja2")]


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.add(text)
    return found


def test_every_message_in_the_code_is_translated_to_vietnamese() -> None:
    with (ROOT / "web/translations/vi/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(source_messages() - translated)
    assert missing == [], f"run scripts/i18n-update.sh and translate: {missing}"


def test_pages_are_vietnamese_by_default_and_english_on_request(client) -> None:
    vi = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in vi and 'lang="vi"' in vi
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in en and 'lang="en"' in en
    assert "Log in" in client.get("/login").get_data(as_text=True)  # the choice is remembered


def test_api_errors_follow_the_language(client) -> None:
    assert "đăng nhập" in client.get("/api/v1/alerts").get_json()["message"].lower()
    assert "log in" in client.get("/api/v1/alerts?lang=en").get_json()["message"].lower()
