"""The assessment form page and its htmx results fragment under gunicorn (2 workers, DEBUG off, loopback),
against a bare view served in the same run. Goal: the fragment serves ≥ 0.3 of the bare view's requests/s."""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import bench_env, gunicorn, prepare, report, run_python, wrk

FORM = {
    "sample_date": "2026-11-20",
    "b12_value": "150",
    "b12_unit": "pg/mL",
    "active_b12_unit": "pmol/L",
    "homocysteine_unit": "umol/L",
    "neurological_involvement": "on",
    "severe": "on",
}


def main(seconds: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = bench_env(f"sqlite:///{tmp}/bench.sqlite3")
        session = prepare(env)
        patient = run_python(
            env,
            "from recommender.models import Patient; from django.contrib.auth import get_user_model;"
            "p,_=Patient.objects.get_or_create(hospital_number='BENCH1', defaults=dict(family_name='Bench',"
            "given_name='Pat', date_of_birth='1950-01-01', created_by=get_user_model().objects.get(username='bench')));"
            "print(p.pk)",
        )
        csrf = secrets.token_hex(16)  # a CSRF secret of the unmasked 32-character form Django accepts
        cookie = f"sessionid={session}; csrftoken={csrf}"
        body = urlencode(FORM)
        fragment_headers = ("HX-Request: true", f"X-CSRFToken: {csrf}", "Referer: http://127.0.0.1/")
        with gunicorn(env) as base:
            wrk(f"{base}/bench/bare", cookie=cookie, seconds=2)  # warm-up
            bare = wrk(f"{base}/bench/bare", cookie=cookie, seconds=seconds)
            form = wrk(f"{base}/patients/{patient}/assess/", cookie=cookie, seconds=seconds)
            fragment = wrk(
                f"{base}/patients/{patient}/assess/preview/",
                cookie=cookie,
                seconds=seconds,
                body=body,
                content_type="application/x-www-form-urlencoded",
                headers=fragment_headers,
            )
    report([("bare view", bare), ("GET assessment form page", form), ("POST htmx results fragment", fragment)])
    ratio = fragment["rps"] / bare["rps"]
    errors = bare["errors"] + form["errors"] + fragment["errors"]
    met = ratio >= 0.3 and errors == 0
    print(f"form page / bare = {form['rps'] / bare['rps']:.2f}")
    print(f"fragment / bare = {ratio:.2f}   (goal ≥ 0.30 with 0 errors: {'met' if met else 'NOT met'})")


if __name__ == "__main__":
    main()
