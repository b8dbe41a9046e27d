"""A real SMTP server on loopback for the report-delivery tests: aiosmtpd
with STARTTLS required and authentication required (PLAIN or LOGIN, only
after STARTTLS), its certificate issued by a throw-away CA (trustme).

    smtp_server.py DIR PORT USER PASSWORD    (PORT 0: only make the CA)

Makes the CA (DIR/ca.pem to trust, DIR/ca-key.pem) unless DIR has one,
so a server started later is trusted by what trusted the first; then
listens and writes each message
it accepts as DIR/NNN.eml with DIR/NNN.json (envelope sender, recipients,
the login it authenticated as and whether TLS was on), and prints "ready"
once it accepts connections. Runs until killed.
"""

import asyncio
import json
import pathlib
import ssl
import sys

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out = pathlib.Path(sys.argv[1])
port = int(sys.argv[2])
user, password = sys.argv[3].encode(), sys.argv[4].encode()

if (out / "ca-key.pem").exists():
    ca = trustme.CA.from_pem(
        (out / "ca.pem").read_bytes(), (out / "ca-key.pem").read_bytes()
    )
else:
    ca = trustme.CA()
    ca.private_key_pem.write_to_path(str(out / "ca-key.pem"))
    ca.cert_pem.write_to_path(str(out / "ca.pem"))
if port == 0:
    sys.exit(0)
cert = ca.issue_cert("127.0.0.1", "localhost")
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
cert.configure_cert(context)


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == user and auth_data.password == password
    )
    # handled=False: aiosmtpd answers a refusal with 535 itself (with the
    # default, True, it would answer nothing and the client would hang).
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Keep:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        Keep.count += 1
        stem = out / f"{Keep.count:03}"
        stem.with_suffix(".eml").write_bytes(envelope.original_content)
        stem.with_suffix(".json").write_text(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "login": session.auth_data.login.decode() if session.auth_data else None,
                    "tls": session.ssl is not None,
                }
            )
        )
        return "250 Message accepted for delivery"


controller = Controller(
    Keep(),
    hostname="127.0.0.1",
    port=port,
    tls_context=context,
    require_starttls=True,
    authenticator=authenticate,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
print("ready", flush=True)
try:
    asyncio.run(asyncio.Event().wait())
finally:
    controller.stop()
