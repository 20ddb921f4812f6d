"""``ioc demo``: the embedded stack, seeded with one user per role, and a simulator posting events."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from engine.config import settings
from engine.db import transaction
from engine.models import User
from engine.org import add_user
from engine.tokens import create_token
from web.server import serve

DEMO_USERS = (  # user name, role, department, full name
    ("lanhdao", "leader", None, "Lãnh đạo UBND tỉnh"),
    ("trucban", "operator", "TT-IOC", "Trực ban IOC"),
    ("chuyenvien", "officer", "SO-NNMT", "Chuyên viên Sở Nông nghiệp và Môi trường"),
    ("thietke", "designer", "TT-IOC", "Thiết kế quy trình"),
    ("quantri", "admin", "TT-IOC", "Quản trị hệ thống"),
)


def seed_demo_users(data_dir: Path) -> list[tuple[str, str, str]]:
    """Create the demo users once; their passwords are kept (readable by this OS user only) and reprinted."""
    store = data_dir / "demo-users.txt"
    lines = store.read_text().splitlines() if store.exists() else []
    known = dict(line.split("\t", 1) for line in lines if "\t" in line)
    out = []
    with transaction() as session:
        for username, role, dept, full_name in DEMO_USERS:
            exists = session.scalar(select(User).where(User.username == username)) is not None
            if not exists:
                known[username] = secrets.token_urlsafe(12)  # random: no user name in it (the policy refuses it)
                add_user(session, username, role, known[username], department_code=dept, full_name=full_name,
                         actor="demo")
            out.append((username, role, known.get(username, "(set earlier)")))
    store.write_text("".join(f"{u}\t{p}\n" for u, p in known.items()))
    store.chmod(0o600)
    return out


def seed_demo_indicators(seed: int = 2026) -> int:
    """Demo figures (made up, labelled source "demo"): monthly values by commune for this year and the last,
    and the year's targets, so that the indicator pages have something to show. Runs once."""
    import random
    from datetime import datetime

    from engine import indicators
    from engine.models import IndicatorObservation, Unit

    with transaction() as session:
        if session.scalar(select(IndicatorObservation.id).where(IndicatorObservation.source == "demo").limit(1)):
            return 0
        rnd = random.Random(seed)  # noqa: S311 - made-up demo figures, not secrets
        now = datetime.now(indicators.tz())
        communes = [c for c in session.scalars(select(Unit.code)) if c != indicators.PROVINCE][:40]
        plan = {"budget_revenue": 52000, "retail_sales": 140000, "new_enterprises": 2300, "traffic_accidents": 700,
                "overdue_applications": 9000}  # demo targets for the year
        stored = 0
        for code, target in plan.items():
            indicator = indicators.get(session, code)
            indicator.targets = {str(now.year): float(target)}
            items = []
            for year in (now.year - 1, now.year):
                last = 12 if year < now.year else now.month - 1
                for month in range(1, last + 1):
                    for unit in communes:
                        value = target / (len(communes) * 12) * rnd.uniform(0.6, 1.3)
                        items.append({"unit": unit, "value": round(value, 2),
                                      "period_start": datetime(year, month, 1, tzinfo=indicators.tz())})
            stored += indicators.record(session, indicator, items, source="demo", actor="demo").stored
        return stored


def seed_demo_camera() -> str:
    """The synthetic traffic camera, calibrated, at the Big C roundabout in Thanh Hóa city (an illustration)."""
    from connectors.camera import synthetic
    from connectors.camera.runner import calibration_to_dict
    from engine import cameras

    code = "CAM-SYNTHETIC"
    with transaction() as session:
        row = cameras.register(session, code, name="Camera mô phỏng — nút giao minh họa", source="synthetic:720p",
                               location={"type": "Point", "coordinates": [105.7852, 19.8067]}, actor="demo")
        if not (row.attributes or {}).get("calibration"):
            cameras.save_calibration(session, code, calibration_to_dict(synthetic.calibration(scale=2)), actor="demo")
    return code


def run_demo(host: str, port: int, simulate: bool = True) -> int:
    s = settings()

    def start_demo(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
        users = seed_demo_users(s.data_dir)
        seed_demo_indicators()
        print(f"\nIOC demo — http://{host}:{port}")
        print("Demo users (user name / role / password):")
        for username, role, password in users:
            print(f"  {username:<12} {role:<9} {password}")
        print(flush=True)
        if not simulate:
            return []
        with transaction() as session:
            token = create_token(session, f"demo-simulator-{secrets.token_hex(2)}", "operator", actor="demo",
                                 scope_list=["events:write", "entities:write"])
        code = ("import sys; from connectors.simulator import run; "
                "run(sys.argv[1], sys.argv[2], float(sys.argv[3]))")
        interval = os.environ.get("IOC_DEMO_INTERVAL", "5")
        camera = seed_demo_camera()  # its run once gives the traffic monitor violations to review
        return [subprocess.Popen([sys.executable, "-c", code, f"http://{host}:{port}", token, interval], env=env),
                subprocess.Popen([sys.executable, "-m", "web.cli", "camera", "run", camera], env=env)]

    return serve(host, port, before_serve=start_demo)
