"""Digest delivery against real local receivers: an HTTP server standing in for the Slack webhook
and an aiosmtpd SMTP server, both on 127.0.0.1. The digest comes from a real weekly run (in-memory
store, hashing embedder) over rows that went through ingest with personal data in them."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from typer.testing import CliRunner

from feedback_miner.adapters.notify import DeliveryError, SlackWebhook, SmtpEmail, channels_from_settings
from feedback_miner.adapters.render import render_digest
from feedback_miner.adapters.store import open_store
from feedback_miner.cli import app
from feedback_miner.config import Settings
from feedback_miner.domain.weeks import week_bounds
from feedback_miner.errors import ConfigError
from feedback_miner.services.delivery import compose, deliver
from feedback_miner.services.weekly import RunOptions, run_week
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.digest import Digest
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows
from feedback_miner.testing import SAMPLE_PROBLEMS as PROBLEMS
from feedback_miner.testing import HashingEmbedder, InMemoryStore

WEEK = "2026-W46"
PUBLIC = "https://fm.example.com"
PII = ("jane.doe@example.com", "7700 900123", "4111 1111 1111 1111", "@example.com")
HOSTILE_TITLE = "Refund <!channel> & <https://evil.example|click here>"
HOSTILE_QUOTE = "charged twice <@U024BE7LH> & no refund <script>alert(1)</script>"
TOKEN = "XXXXSECRETTOKENXXXX"
ENV_KEYS = ("SLACK_WEBHOOK_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM",
            "SMTP_STARTTLS", "DIGEST_RECIPIENTS", "PUBLIC_URL", "SCHEDULE_TIME", "DATABASE_URL")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ENV_KEYS:
        monkeypatch.delenv(f"FM_{k}", raising=False)


@pytest.fixture(scope="module")
def digest() -> Digest:
    """A real run's digest; rows carry emails, phones and a card number before ingest redacts them."""
    emb = HashingEmbedder()
    texts = [t.format(n=n) for ts in PROBLEMS.values() for t in ts for n in range(6)]
    labels = [c for c, ts in PROBLEMS.items() for _ in ts for _ in range(6)]
    clf = LinearSoftmaxClassifier(C=2.0).fit(emb.embed(texts), labels)
    t0 = week_bounds(WEEK)[0] + timedelta(hours=1)
    rows: list[tuple[int, dict[str, object]]] = []
    for ts in PROBLEMS.values():
        for k in range(12):
            text = ts[k % 3].format(n=k)
            if k % 3 == 0:
                text += " mail jane.doe@example.com, call +44 7700 900123, card 4111 1111 1111 1111"
            rows.append((len(rows) + 2, {"text": text, "external_id": f"t-{len(rows)}", "rating": str(1 + k % 5),
                                         "created_at": (t0 + timedelta(minutes=len(rows))).isoformat(),
                                         "customer_id": f"cust{k % 5}@example.com", "nps": str(k % 11)}))
    store, report = InMemoryStore(), IngestReport()
    for item in parse_rows(rows, ColumnMapping(), default_source="zendesk", report=report,
                           pseudonym_key="test-pseudonym-key-0123456789"):
        store.upsert_feedback(item)
    assert not report.errors
    d = run_week(store, emb, clf, week=WEEK, classifier_version="v-test", options=RunOptions(heartbeat_s=0.05))
    assert len(d.top_problems) >= 3
    return d


@pytest.fixture(scope="module")
def hostile(digest: Digest) -> Digest:
    """The same digest with a lead's rename holding Slack/HTML control text, and a severe report."""
    top = [dict(p) for p in digest.top_problems]
    top[0]["title"] = HOSTILE_TITLE
    return dataclasses.replace(digest, top_problems=tuple(top), severe_unclustered=(
        {"category": "payment", "quote": HOSTILE_QUOTE, "reason": "money lost & <b>angry</b>"},))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv: Any = self.server
        srv.posts.append({"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)})
        self.send_response(srv.status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok" if srv.status == 200 else b"no_service")

    def log_message(self, *args: Any) -> None:
        pass


def serve_webhook() -> Iterator[Any]:
    """A local HTTP server recording each POSTed JSON body (``.posts``), answering ``.status``."""
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    srv.posts, srv.status = [], 200
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/services/T000/B000/{TOKEN}"
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def slack() -> Iterator[Any]:
    yield from serve_webhook()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


def _smtp(**kw: Any) -> Iterator[tuple[_Inbox, int]]:
    inbox, port = _Inbox(), _free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    yield inbox, port
    ctl.stop()


@pytest.fixture()
def smtp() -> Iterator[tuple[_Inbox, int]]:
    yield from _smtp()


@pytest.fixture()
def smtp_auth() -> Iterator[tuple[_Inbox, int]]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"fm-bot", b"s3cret-pass")
        return AuthResult(success=ok, handled=False)

    yield from _smtp(authenticator=check, auth_require_tls=False)


def slack_text(payload: dict[str, Any]) -> str:
    parts = [payload["text"]]
    for b in payload["blocks"]:
        if "text" in b:
            parts.append(b["text"]["text"])
        parts += [e["text"] for e in b.get("elements", [])]
    return "\n".join(parts)


def _mail(port: int, **kw: Any) -> SmtpEmail:
    return SmtpEmail(**{"host": "127.0.0.1", "port": port, "sender": "fm@example.org",
                        "recipients": ("lead@example.org", "dev@example.org"), "starttls": False, **kw})


def test_slack_post_has_the_summary_with_user_text_escaped(slack: Any, hostile: Digest) -> None:
    msg = compose(hostile, public_url=PUBLIC)
    detail = SlackWebhook(slack.url).send(msg)
    assert "Slack (127.0.0.1)" in detail and TOKEN not in detail
    [post] = slack.posts
    assert post["path"].endswith(TOKEN) and post["type"].startswith("application/json")
    text = slack_text(post["json"])
    for p in hostile.top_problems[1:5]:
        assert f"*{p['title']}*" in text
    assert "Refund &lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;" in text
    assert "&lt;@U024BE7LH&gt; &amp; no refund &lt;script&gt;" in text and "money lost &amp; &lt;b&gt;" in text
    assert "<!channel>" not in text and "<@U024" not in text and "<https://evil" not in text
    assert "Shipping &amp; delivery" in text  # the labels are escaped too
    assert f"<{PUBLIC}/digest/{WEEK}|Open the digest page>" in text
    assert "Metrics vs targets" in text and "target 90.0%" in text and "New and growing" in text
    assert not [x for x in PII if x in json.dumps(post["json"])]
    assert len(post["json"]["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in post["json"]["blocks"] if b["type"] == "section")


def test_email_is_multipart_text_and_the_html_digest(smtp: tuple[_Inbox, int], hostile: Digest) -> None:
    inbox, port = smtp
    detail = _mail(port).send(compose(hostile, public_url=PUBLIC))
    assert detail.startswith(f"e-mailed the {WEEK} digest to 2 recipients via 127.0.0.1:")
    [(sender, rcpts, msg)] = inbox.messages
    assert sender == "fm@example.org" and rcpts == ["lead@example.org", "dev@example.org"]
    assert WEEK in str(msg["Subject"]) and msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert HOSTILE_TITLE in plain and f"Digest page: {PUBLIC}/digest/{WEEK}" in plain
    for p in hostile.top_problems[1:5]:
        assert p["title"] in plain and p["title"] in html
    assert html.replace("\r\n", "\n").strip() == render_digest(hostile, "html").strip()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert not [x for x in PII if x in plain + html]


def test_deliver_command_sends_to_every_channel(tmp_path: Path, slack: Any, smtp: tuple[_Inbox, int],
                                                digest: Digest) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    open_store(db).save_digest(WEEK, digest.to_dict(), None)
    env = {"FM_SLACK_WEBHOOK_URL": slack.url, "FM_SMTP_HOST": "127.0.0.1", "FM_SMTP_PORT": str(smtp[1]),
           "FM_SMTP_STARTTLS": "false", "FM_SMTP_FROM": "fm@example.org", "FM_PUBLIC_URL": PUBLIC,
           "FM_DIGEST_RECIPIENTS": "lead@example.org, dev@example.org"}
    r = CliRunner().invoke(app, ["deliver", "--week", WEEK, "--db", db], env=env)
    assert r.exit_code == 0, r.output
    assert f"sent: posted the {WEEK} summary to Slack (127.0.0.1)" in r.stdout
    assert "sent: e-mailed the" in r.stdout and "2 recipients" in r.stdout
    assert len(slack.posts) == 1 and len(smtp[0].messages) == 1
    assert digest.top_problems[0]["title"] in slack_text(slack.posts[0]["json"])


def test_a_failing_channel_is_named_and_the_other_still_goes(tmp_path: Path, slack: Any, smtp: tuple[_Inbox, int],
                                                             digest: Digest) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    open_store(db).save_digest(WEEK, digest.to_dict(), None)
    slack.status = 500
    env = {"FM_SLACK_WEBHOOK_URL": slack.url, "FM_SMTP_HOST": "127.0.0.1", "FM_SMTP_PORT": str(smtp[1]),
           "FM_SMTP_STARTTLS": "false", "FM_SMTP_FROM": "fm@example.org", "FM_DIGEST_RECIPIENTS": "lead@example.org"}
    r = CliRunner().invoke(app, ["deliver", "--week", WEEK, "--db", db], env=env)
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert "error: Slack: the webhook at 127.0.0.1 answered HTTP 500 (no_service)" in r.stderr
    assert "sent: e-mailed the" in r.stdout and len(smtp[0].messages) == 1
    assert TOKEN not in r.output and "Traceback" not in r.output
    # and the other way round: the mail server is down, Slack still gets the post
    slack.status = 200
    env["FM_SMTP_PORT"] = str(_free_port())
    r = CliRunner().invoke(app, ["deliver", "--week", WEEK, "--db", db], env=env)
    assert r.exit_code == 2 and "sent: posted" in r.stdout and len(slack.posts) == 2
    assert f"error: e-mail: SMTP server 127.0.0.1:{env['FM_SMTP_PORT']}: ConnectionRefusedError" in r.stderr


def test_unreachable_webhook_and_starttls_refusal_are_clear(smtp: tuple[_Inbox, int], digest: Digest) -> None:
    msg = compose(digest)
    results = deliver(msg, [SlackWebhook(f"http://127.0.0.1:{_free_port()}/services/{TOKEN}", timeout_s=5),
                            _mail(smtp[1], starttls=True)])
    assert [r.ok for r in results] == [False, False]
    assert results[0].detail.startswith("Slack: cannot reach the webhook at 127.0.0.1:") and TOKEN not in results[0].detail
    assert results[1].detail.startswith(f"e-mail: SMTP server 127.0.0.1:{smtp[1]}: SMTPNotSupportedError")
    assert smtp[0].messages == []


def test_smtp_login(smtp_auth: tuple[_Inbox, int], digest: Digest) -> None:
    inbox, port = smtp_auth
    msg = compose(digest)
    assert "2 recipients" in _mail(port, user="fm-bot", password="s3cret-pass").send(msg)
    with pytest.raises(DeliveryError, match="refused the login of FM_SMTP_USER") as exc:
        _mail(port, user="fm-bot", password="wrong-pass").send(msg)
    assert "wrong-pass" not in str(exc.value)
    assert len(inbox.messages) == 1


def test_settings_name_what_is_missing_or_unsafe() -> None:
    with pytest.raises(ConfigError, match=r"FM_SLACK_WEBHOOK_URL.*FM_SMTP_HOST, FM_SMTP_FROM and FM_DIGEST_RECIPIENTS"):
        channels_from_settings(Settings())
    with pytest.raises(ConfigError, match="needs FM_SMTP_FROM, FM_DIGEST_RECIPIENTS as well"):
        channels_from_settings(Settings(smtp_host="smtp.example.com"))
    with pytest.raises(ConfigError, match="'not-an-address' is not an e-mail address"):
        channels_from_settings(Settings(smtp_host="h", smtp_from="a@example.org", digest_recipients="not-an-address"))
    with pytest.raises(ConfigError, match="FM_SMTP_PASSWORD is not"):
        channels_from_settings(Settings(smtp_host="h", smtp_from="a@b.org", digest_recipients="c@d.org", smtp_user="u"))
    with pytest.raises(ConfigError, match="clear text"):
        channels_from_settings(Settings(smtp_host="smtp.example.com", smtp_from="a@b.org", digest_recipients="c@d.org",
                                        smtp_user="u", smtp_password="p", smtp_starttls=False))
    with pytest.raises(ConfigError, match="must be an https:// URL") as exc:
        channels_from_settings(Settings(slack_webhook_url=f"http://hooks.example.com/{TOKEN}"))
    assert TOKEN not in str(exc.value)
    both = channels_from_settings(Settings(slack_webhook_url="https://hooks.slack.com/services/a", smtp_host="h",
                                           smtp_from="a@b.org", digest_recipients="c@d.org, e@f.org"))
    assert [c.name for c in both] == ["Slack", "e-mail"]
    assert "hooks.slack.com/services/a" not in repr(Settings(slack_webhook_url="https://hooks.slack.com/services/a"))


def test_deliver_without_channels_or_digest_says_what_to_do(tmp_path: Path, slack: Any, digest: Digest) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    r = CliRunner().invoke(app, ["deliver", "--week", WEEK, "--db", db])
    assert r.exit_code == 2 and "no delivery channel is configured: set FM_SLACK_WEBHOOK_URL" in r.stderr
    r = CliRunner().invoke(app, ["deliver", "--week", WEEK, "--db", db], env={"FM_SLACK_WEBHOOK_URL": slack.url})
    assert r.exit_code == 2 and f"no digest for {WEEK}: build it first with `feedback-miner run --week {WEEK}`" in r.stderr
    r = CliRunner().invoke(app, ["deliver", "--week", WEEK, "--db", db], env={"FM_PUBLIC_URL": "ftp://x"})
    assert r.exit_code == 2 and "invalid setting — FM_PUBLIC_URL" in r.stderr and "Traceback" not in r.output
    open_store(db).save_digest(WEEK, digest.to_dict(), None)
    r = CliRunner().invoke(app, ["deliver", "--week", WEEK, "--db", db, "--dry-run"])
    assert r.exit_code == 0 and digest.top_problems[0]["title"] in r.stdout and slack.posts == []
