"""Checks hotline's OpenAPI documents with independent libraries.

openapi-spec-validator checks each document against the OpenAPI
specification; openapi-core then checks real requests and the server's
real answers (status, headers, JSON bodies) against the document, as a
client generated from it would rely on them.

Usage: openapi_client.py BASE PASSWORD SUPERVISOR OPERATOR EXECUTOR ADMIN KEY PNG
(the users' logins, all with PASSWORD; an Open311 key; a PNG file to
attach). Prints one JSON document: the documents' versions, their
operations, and every request checked, as [method, path template,
status].
"""

import datetime
import json
import re
import sys

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_spec_validator import validate

base, password, supervisor, operator, executor, admin, key, png = sys.argv[1:9]
checked = []


def document(path):
    r = requests.get(base + path, timeout=10)
    r.raise_for_status()
    spec = r.json()
    validate(spec)  # raises on any departure from the OpenAPI specification
    return spec, OpenAPI.from_dict(spec)


api = document("/api/openapi.json")
o311 = document("/open311/v2/openapi.json")


def template(spec, path):
    """The document's path template `path` is an instance of."""
    for t in spec["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t))
        if re.fullmatch(pattern, path):
            return t
    raise SystemExit(f"{path}: no path of the document matches")


def call(doc, session, method, path, expect, sound=True, **kw):
    """One request, checked both ways against the document `doc`; a
    request made wrong on purpose (`sound=False`) only by its answer."""
    spec, doc = doc
    r = session.request(method, base + path, timeout=30, **kw)
    request = RequestsOpenAPIRequest(r.request)
    response = RequestsOpenAPIResponse(r)
    if r.status_code != expect:
        raise SystemExit(f"{method} {path}: {r.status_code}, not {expect}: {r.text[:500]}")
    if sound:
        doc.validate_request(request)
    doc.validate_response(request, response)
    checked.append((method, template(spec, path.split("?")[0]), r.status_code))
    return r


def signed_in(login):
    s = requests.Session()
    r = call(api, s, "POST", "/api/session", 200, json={"login": login, "password": password})
    s.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return s


anonymous = requests.Session()
call(api, anonymous, "GET", "/api/queues", 401, sound=False)
call(api, anonymous, "POST", "/api/session", 401, json={"login": supervisor, "password": "wrong"})

sv = signed_in(supervisor)
call(api, sv, "GET", "/api/session", 200)
call(api, sv, "GET", "/api/queues", 200)
call(api, sv, "GET", "/api/operators", 200)
call(api, sv, "GET", "/api/live", 200)
tree = call(api, sv, "GET", "/api/classifier", 200).json()
category = tree["sections"][0]["types"][0]["id"]
found = call(api, sv, "GET", "/api/classifier/search", 200, params={"q": "освітл"}).json()
ids = {t["id"]: t["name"] for sec in tree["sections"] for t in sec["types"]}
assert found["types"] and all(i in ids for i in found["types"]), found
call(api, sv, "GET", "/api/executors", 200)

card = {
    "surname": "Коваленко",
    "first_name": "Ірина",
    "patronymic": "Петрівна",
    "address": "вул. Соборна, 12, кв. 5",
    "contact_phone": "+380671234567",
    "essence": "Немає холодної води з ранку.",
    "category_id": category,
    "channel": "walk_in",
    "latitude": 47.8388,
    "longitude": 35.1396,
}
call(api, sv, "POST", "/api/appeals", 422, json={"surname": "", "contact_phone": "12"})
number = call(api, sv, "POST", "/api/appeals", 201, json=card).json()["registration_number"]
call(api, sv, "GET", f"/api/appeals/{number}", 200)
call(api, sv, "GET", "/api/appeals/1580-0000-000000", 404)
call(api, sv, "POST", f"/api/appeals/{number}/actions", 200,
     json={"action": "comment", "text": "Перевірено з мешканцем."})
call(api, sv, "POST", f"/api/appeals/{number}/actions", 409,
     json={"action": "approve"})
files = {"file": ("акт.png", open(png, "rb"), "image/png")}
attachment = call(api, sv, "POST", f"/api/appeals/{number}/attachments", 201, files=files).json()
call(api, sv, "GET", f"/api/appeals/{number}/attachments/{attachment['id']}", 200)
call(api, sv, "GET", f"/api/appeals/{number}/history", 200)
call(api, sv, "GET", "/api/decisions", 200)
call(api, sv, "GET", "/api/triage", 200)
call(api, sv, "GET", f"/api/card-access?number={number}", 200)
call(api, sv, "GET", "/api/verification", 200)
call(api, sv, "GET", "/api/verification/control", 200)
call(api, sv, "GET", "/api/reports", 200)
call(api, sv, "GET", "/api/reports/weekly?rows=5", 200)
call(api, sv, "GET", "/api/reports/monthly?format=csv", 200)
call(api, sv, "GET", "/api/reports/monthly?format=docx", 422)
call(api, sv, "GET", "/api/report-deliveries", 200)
call(api, sv, "GET", "/api/recordings?per_page=5", 200)
call(api, sv, "GET", "/api/recordings?from=yesterday", 422)
hold = call(api, sv, "POST", f"/api/appeals/{number}/hold", 201, json={"reason": "Скарга до суду"}).json()
call(api, sv, "DELETE", f"/api/holds/{hold['id']}", 200)
call(api, sv, "GET", "/api/blocked", 200)
call(api, sv, "GET", "/api/blocked?history=1", 200)
call(api, sv, "POST", "/api/blocked", 201,
     json={"number": "067 765 43 21", "reason": "Погрози операторам", "until": "2031-01-31"})
call(api, sv, "POST", "/api/blocked", 422, json={"number": "nobody", "reason": ""})
call(api, sv, "DELETE", "/api/blocked/+380677654321", 200)
call(api, sv, "GET", "/api/works", 200)
call(api, sv, "GET", "/api/announcements", 200)
note = call(api, sv, "POST", "/api/announcements", 201,
            json={"title": "Графік вивезення сміття", "body": "З понеділка — о 7:00."}).json()
call(api, sv, "POST", f"/api/announcements/{note['id']}/withdraw", 200)
call(api, sv, "POST", "/api/announcements", 422, json={"title": "", "body": ""})
call(api, sv, "PUT", f"/api/operators/{operator}/state", 200, json={"state": "logged_in"})
call(api, sv, "PUT", f"/api/operators/{operator}/state", 200,
     json={"state": "paused", "reason": "Навчання"})
call(api, sv, "PUT", f"/api/operators/{operator}/state", 422, json={"state": "paused"})
# A supervisor logs an operator out only with a reason.
call(api, sv, "PUT", f"/api/operators/{operator}/state", 422, json={"state": "logged_out"})
call(api, sv, "PUT", f"/api/operators/{operator}/state", 200,
     json={"state": "logged_out", "reason": "Кінець зміни"})
today = call(api, sv, "GET", "/api/operators/figures", 200).json()
assert any(o["login"] == operator for o in today["operators"]), today
call(api, sv, "GET", "/api/operators/figures", 200, params={"from": "2026-11-01", "to": "2026-11-30"})
call(api, sv, "GET", "/api/operators/figures", 422, params={"from": "2026-11-30", "to": "2026-11-01"})
# Listening in: this supervisor has no softphone linked; no call is live.
call(api, sv, "GET", "/api/calls/monitors", 200)
nocall = "0b7f3c52-6d1e-4c43-9a55-3f0c3c8d9e01"
call(api, sv, "POST", f"/api/calls/{nocall}/monitor", 409, json={"mode": "listen"})
call(api, sv, "PUT", f"/api/calls/{nocall}/monitor", 404, json={"mode": "whisper"})
call(api, sv, "DELETE", f"/api/calls/{nocall}/monitor", 404)
call(api, sv, "DELETE", "/api/session", 204)

adm = signed_in(admin)
call(api, adm, "POST", "/api/ivr/reload", 200)
call(api, adm, "GET", "/api/recording-access", 200)
call(api, adm, "GET", "/api/recording-access?format=csv", 200)
users = call(api, adm, "GET", "/api/users", 200).json()
assert any(u["login"] == supervisor for u in users["users"]), users
call(api, adm, "POST", "/api/users", 422, json={"login": "X Y", "name": "", "role": "boss", "password": "1"})
call(api, adm, "POST", "/api/users", 201, json={
    "login": "nova", "name": "Нова Людина", "role": "supervisor", "password": "dovgyi-parol",
    "email": "nova@example.ua"})
call(api, adm, "PUT", "/api/users/nova", 200, json={"disabled": True, "reason": "відпустка"})
call(api, adm, "PUT", "/api/users/nobody", 404, json={"name": "Хтось"})
call(api, adm, "POST", "/api/users/nova/password", 204, json={"password": "insha-dovga-fraza"})
call(api, adm, "POST", "/api/users/nova/password", 422, json={"password": "short"})
call(api, adm, "GET", "/api/admin/config", 200)
menu = call(api, adm, "GET", "/api/admin/ivr", 200).json()
assert any(f["file"] == "main" for f in menu["files"]), menu
call(api, adm, "POST", "/api/admin/ivr/check", 200)
call(api, adm, "GET", "/api/admin/ivr/prompt?name=greeting", 200)
call(api, adm, "GET", "/api/admin/ivr/prompt?name=no-such-prompt", 404)
call(api, adm, "PUT", "/api/admin/ivr/prompt?name=greeting", 422,
     files={"file": ("greeting.txt", b"not audio", "text/plain")})
call(api, adm, "GET", "/api/admin/operators", 200)
call(api, adm, "POST", "/api/admin/operators", 422,
     json={"login": "X", "name": "", "extension": "1", "password": "1", "queues": [{"queue": "nowhere"}]})
call(api, adm, "POST", "/api/admin/operators", 201, json={
    "login": "ivan", "name": "Іван Сидоренко", "extension": "1077", "password": "dovgyi-parol",
    "queues": [{"queue": "general", "penalty": 0}]})
call(api, adm, "PUT", "/api/admin/operators/ivan", 200,
     json={"queues": [{"queue": "general", "penalty": 2}], "reason": "резерв"})
call(api, adm, "PUT", "/api/admin/operators/nobody", 404, json={"name": "Хтось"})
call(api, adm, "POST", "/api/admin/operators/ivan/password", 204, json={"password": "insha-dovga-fraza"})
call(api, adm, "DELETE", "/api/admin/operators/ivan", 204)
log = call(api, adm, "GET", "/api/audit", 200, params={"target": "nova"}).json()
assert [e["action"] for e in log["entries"]] == ["user.password", "user.update", "user.add"], log

op = signed_in(operator)
call(api, op, "GET", "/api/my/calls", 200)
call(api, op, "GET", "/api/blocked", 403)

def later(days):
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return at.replace(microsecond=0).isoformat().replace("+00:00", "Z")


ex = signed_in(executor)
call(api, ex, "GET", "/api/inbox", 200)
call(api, ex, "GET", "/api/inbox?tab=nonsense", 400, sound=False)
work = call(api, ex, "POST", "/api/works", 201, json={
    "kind": "emergency",
    "service": "water",
    "description": "Порив водогону",
    "expected_end": later(1),
    "addresses": [{"street": "вул. Соборна", "house": "12"}],
}).json()
call(api, ex, "POST", f"/api/works/{work['id']}/extend", 200, json={"until": later(2)})
call(api, ex, "POST", f"/api/works/{work['id']}/close", 200)

form = call(api, anonymous, "GET", "/public/api/form", 200).json()
found = call(api, anonymous, "GET", "/public/api/classifier/search", 200, params={"q": "вода"}).json()
assert found["types"], found
web = {
    "surname": "Мельник",
    "first_name": "Олег",
    "patronymic": "Іванович",
    "address": "просп. Соборний, 150",
    "contact_phone": "050 111 22 33",
    "essence": "Не світить ліхтар біля зупинки.",
    "category": form["sections"][0]["types"][0]["id"],
    "consent": "yes",
}
photo = {"files": ("фото.png", open(png, "rb"), "image/png")}
call(api, anonymous, "POST", "/public/api/appeals", 201, data=web, files=photo)
call(api, anonymous, "POST", "/public/api/appeals", 422, data={**web, "consent": ""},
     files={"files": ("фото.png", open(png, "rb"), "image/png")})
call(api, anonymous, "GET", "/public/api/works", 200)
call(api, anonymous, "GET", "/public/works.atom", 200)
call(api, anonymous, "GET", "/public/works.rss", 200)
call(api, anonymous, "GET", "/public/api/status?number=1580-0000-000000&digits=4567", 404)

call(o311, anonymous, "GET", "/open311/v2/discovery.json", 200)
services = call(o311, anonymous, "GET", "/open311/v2/services.json", 200).json()
code = services[0]["service_code"]
call(o311, anonymous, "GET", f"/open311/v2/services/{code}.json", 200)
call(o311, anonymous, "GET", "/open311/v2/services/no-such.json", 404)
filed = call(o311, anonymous, "POST", "/open311/v2/requests.json", 200, data={
    "api_key": key,
    "service_code": code,
    "address_string": "вул. Соборна, 12",
    "lat": "47.8388",
    "long": "35.1396",
    "first_name": "Ірина",
    "last_name": "Коваленко",
    "phone": "+380671234567",
    "description": "Яма на дорозі",
    "attribute[patronymic]": "Петрівна",
    "attribute[consent]": "yes",
}).json()
call(o311, anonymous, "POST", "/open311/v2/requests.json", 403, sound=False,
     data={"service_code": code})
request_id = filed[0]["service_request_id"]
call(o311, anonymous, "GET", "/open311/v2/requests.json?status=open", 200)
call(o311, anonymous, "GET", f"/open311/v2/requests/{request_id}.json", 200)
call(o311, anonymous, "GET", "/open311/v2/requests.json?start_date=yesterday", 400)
call(o311, anonymous, "GET", "/open311/v2/tokens/no-such.json", 404)

print(json.dumps({
    "api": api[0]["openapi"],
    "open311": o311[0]["openapi"],
    "operations": [
        [method.upper(), path]
        for spec in (api[0], o311[0])
        for path, item in spec["paths"].items()
        for method in item
    ],
    "checked": checked,
}, ensure_ascii=False))
