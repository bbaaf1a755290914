"""The Google connection shared by the GA4 and Search Console sources (kpireport_google):
real google-auth token exchanges against the kit's fake token endpoint, on 127.0.0.1."""

from __future__ import annotations

import json
import stat
import threading
import webbrowser
from pathlib import Path

import pytest
import requests

from kpireport import (
    AuthenticationError,
    PermissionDenied,
    QuotaExhausted,
    SourceError,
    TransientError,
)
from kpireport.secrets import redact
from kpireport.testing import FakeServer, Reply, make_context
from kpireport.testing.fakes.google_oauth import (
    ANALYTICS_SCOPE,
    WEBMASTERS_SCOPE,
    GoogleOAuthFake,
)
from kpireport_google import GoogleAuth, GoogleClient
from kpireport_google.accounts import load_account
from kpireport_google.connect import ConnectError, connect_google

pytestmark = pytest.mark.usefixtures("only_localhost")

ROOT = Path(__file__).resolve().parent.parent
SA_EMAIL = "reports@agency-project.iam.gserviceaccount.com"


def google_error(status: int, message: str, code_name: str) -> Reply:
    return Reply(status=status, body={"error": {"code": status, "message": message,
                                                "status": code_name}})


@pytest.fixture
def api(tmp_path):
    """A token endpoint and one API route that checks the Bearer token like Google's APIs."""
    with FakeServer() as server:
        oauth = GoogleOAuthFake(server)

        def report(call):
            check = oauth.check_bearer(call, ANALYTICS_SCOPE)
            if check != "ok":
                return google_error(401, "Request had invalid authentication credentials.",
                                    "UNAUTHENTICATED")
            return {"echo": call.json(), "kind": "analyticsData#runReport"}

        server.route("POST", r"/v1beta/properties/123:runReport", report)
        server.oauth = oauth
        server.key = oauth.write_service_account_key(tmp_path / "key.json", SA_EMAIL)
        yield server


def client_for(server, tmp_path, auth=None, **context):
    ctx = make_context(tmp_path, plugin="ga4", **context)
    return GoogleClient(auth or GoogleAuth(service_account_file="key.json"), ctx,
                        scopes=[ANALYTICS_SCOPE], timeout=5)


def url(server):
    return server.url + "/v1beta/properties/123:runReport"


def token_calls(server):
    return len(server.calls_to(r"^/token$"))


def test_a_service_account_key_file_signs_a_jwt_and_calls_with_its_token(api, tmp_path):
    client = client_for(api, tmp_path)
    assert client.post(url(api), {"limit": 5}, resource="GA4 property 123") == {
        "echo": {"limit": 5}, "kind": "analyticsData#runReport"}
    [claims] = api.oauth.assertions
    assert claims["iss"] == SA_EMAIL and claims["scope"] == ANALYTICS_SCOPE
    assert client.identity == f"the service account {SA_EMAIL}"
    assert client.grantee == SA_EMAIL
    # The token is kept for later calls: one exchange for three calls.
    client.post(url(api), {}, resource="GA4 property 123")
    client.post(url(api), {}, resource="GA4 property 123")
    assert token_calls(api) == 1


def test_the_key_may_come_from_an_environment_variable(api, tmp_path, monkeypatch):
    monkeypatch.setenv("GA4_KEY", api.key.read_text())
    client = client_for(api, tmp_path, GoogleAuth(service_account_env="GA4_KEY"))
    assert client.post(url(api), {}, resource="GA4 property 123")["echo"] == {}
    # A private key read from the variable is a secret: masked wherever it would be printed.
    key = json.loads(api.key.read_text())["private_key"]
    assert key.splitlines()[1] not in redact(f"oops {key}")


def test_a_second_worker_reuses_the_token_the_first_obtained(api, tmp_path):
    client_for(api, tmp_path).post(url(api), {}, resource="GA4 property 123")
    other = client_for(api, tmp_path)  # same state folder: another report, another process
    other.post(url(api), {}, resource="GA4 property 123")
    assert token_calls(api) == 1
    token_file, = (tmp_path / "state" / "google" / "tokens").iterdir()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_an_access_token_that_dies_mid_report_is_renewed_once(api, tmp_path):
    client = client_for(api, tmp_path)
    client.post(url(api), {}, resource="GA4 property 123")
    for token in api.oauth.live_tokens():
        api.oauth.expire(token)
    assert client.post(url(api), {"n": 2}, resource="GA4 property 123")["echo"] == {"n": 2}
    assert token_calls(api) == 2
    # Still refused after a new token: an authentication error, not a loop.
    api.fail("POST", r".*runReport", google_error(401, "Request had invalid authentication "
                                                "credentials.", "UNAUTHENTICATED"), times=5)
    with pytest.raises(AuthenticationError, match=SA_EMAIL):
        client.post(url(api), {}, resource="GA4 property 123")
    assert token_calls(api) == 3


@pytest.mark.parametrize("problem, expected", [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ('{"installed": {"client_id": "x"}}', "not a service account key"),
    ('{"type": "service_account", "client_email": "a@b"}', "lacks private_key, token_uri"),
])
def test_a_bad_key_file_is_named_with_what_was_expected(tmp_path, problem, expected):
    if problem is not None:
        (tmp_path / "key.json").write_text(problem)
    client = client_for(None, tmp_path)
    with pytest.raises(SourceError, match=expected) as caught:
        client.post("http://127.0.0.1:9/x", {}, resource="GA4 property 123")
    assert "auth.service_account_file" in str(caught.value)
    assert str(tmp_path / "key.json") in str(caught.value)


def test_an_unset_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    client = client_for(None, tmp_path, GoogleAuth(service_account_env="NO_SUCH_KEY"))
    with pytest.raises(SourceError, match=r"NO_SUCH_KEY .auth.service_account_env. is not set"):
        client.post("http://127.0.0.1:9/x", {}, resource="x")


def test_auth_settings_take_exactly_one_way():
    with pytest.raises(ValueError, match="exactly one of"):
        GoogleAuth()
    with pytest.raises(ValueError, match="got service_account_file, account"):
        GoogleAuth(service_account_file="k.json", account="agency")
    with pytest.raises(ValueError, match="name\\* of an environment variable"):
        GoogleAuth(service_account_env='{"type": "service_account"}')


def test_a_deleted_key_says_so(api, tmp_path):
    api.oauth.accounts.clear()  # the key was deleted in the Cloud console
    with pytest.raises(AuthenticationError, match="refused the key of the service account"):
        client_for(api, tmp_path).post(url(api), {}, resource="GA4 property 123")


def test_no_access_names_the_property_and_the_email_to_add(api, tmp_path):
    api.fail("POST", r".*runReport", google_error(
        403, "User does not have sufficient permissions for this property. To learn more about "
        "Property ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/"
        "property-id.", "PERMISSION_DENIED"))
    with pytest.raises(PermissionDenied) as caught:
        client_for(api, tmp_path).post(url(api), {}, resource="GA4 property 123")
    message = str(caught.value)
    assert "GA4 property 123" in message and f"add {SA_EMAIL} as a user" in message
    assert "sufficient permissions" in message


def test_a_disabled_api_says_to_enable_it(api, tmp_path):
    api.fail("POST", r".*runReport", google_error(
        403, "Google Analytics Data API has not been used in project 42 before or it is "
        "disabled.", "PERMISSION_DENIED"))
    with pytest.raises(PermissionDenied, match="enable this API"):
        client_for(api, tmp_path).post(url(api), {}, resource="GA4 property 123")


def test_a_daily_quota_is_not_retried(api, tmp_path):
    api.fail("POST", r".*runReport", google_error(
        429, "Exhausted property tokens per day. The quota resets at midnight.",
        "RESOURCE_EXHAUSTED"), times=10)
    with pytest.raises(QuotaExhausted, match="tokens per day"):
        client_for(api, tmp_path).post(url(api), {}, resource="GA4 property 123")
    assert len(api.calls_to(r".*runReport")) == 1


def test_short_throttling_is_waited_out(api, tmp_path):
    api.fail("POST", r".*runReport", google_error(
        429, "Exhausted concurrent requests quota.", "RESOURCE_EXHAUSTED"), times=2)
    assert client_for(api, tmp_path).post(url(api), {}, resource="p")["echo"] == {}
    assert len(api.calls_to(r".*runReport")) == 3


def test_server_errors_are_retried_then_transient(api, tmp_path):
    api.fail("POST", r".*runReport", google_error(503, "The service is currently unavailable.",
                                                "UNAVAILABLE"), times=2)
    assert client_for(api, tmp_path).post(url(api), {}, resource="p")["echo"] == {}
    api.fail("POST", r".*runReport", google_error(500, "Internal error.", "INTERNAL"), times=20)
    with pytest.raises(TransientError, match="Internal error"):
        client_for(api, tmp_path).post(url(api), {}, resource="p")


def test_a_hung_api_is_a_transient_error(api, tmp_path):
    client = client_for(api, tmp_path)
    client.access_token()
    api.fail("POST", r".*runReport", Reply(hang=True), times=10)
    with pytest.raises(TransientError, match=r"did not answer within 0\.3 s"):
        client.post(url(api), {}, resource="p", timeout=0.3)


def test_a_bad_request_carries_googles_message(api, tmp_path):
    api.fail("POST", r".*runReport", google_error(
        400, "Field sesions is not a valid metric.", "INVALID_ARGUMENT"))
    with pytest.raises(SourceError, match="p: Field sesions is not a valid metric. "
                                          r"\(HTTP 400, INVALID_ARGUMENT\)"):
        client_for(api, tmp_path).post(url(api), {}, resource="p")


def test_no_token_or_key_in_an_error(api, tmp_path):
    client = client_for(api, tmp_path)
    client.post(url(api), {}, resource="p")
    [token] = api.oauth.live_tokens()
    api.fail("POST", r".*runReport", google_error(400, f"echoing {token}", "INVALID_ARGUMENT"))
    with pytest.raises(SourceError) as caught:
        client.post(url(api), {}, resource="p")
    assert token not in redact(str(caught.value))


# --- The agency's own account: kpireport connect google -------------------------------------


class _Browser(webbrowser.BaseBrowser):
    """The user's browser: follows Google's consent redirect to kpireport's local server."""

    def __init__(self):
        super().__init__("kpireport-test")
        self.opened: list[str] = []

    def open(self, url, new=0, autoraise=True):
        self.opened.append(url)
        # A thread, as a browser is another process: the local server starts answering
        # only once open() has returned.
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10},
                         daemon=True).start()
        return True


@pytest.fixture
def browser(monkeypatch):
    # oauthlib refuses http:// token endpoints unless told it is a test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    fake = _Browser()
    webbrowser.register("kpireport-test", None, fake)
    return fake


def test_connect_google_stores_a_refresh_token_that_every_source_can_use(api, tmp_path,
                                                                         browser):
    secrets_file = api.oauth.write_client_secrets(tmp_path / "client_secret.json")
    said = []
    account = connect_google(tmp_path / "state", name="agency", client_secrets=secrets_file,
                             browser="kpireport-test", echo=said.append)
    [opened] = browser.opened
    assert opened.startswith(api.url + "/o/oauth2/auth?")
    assert "code_challenge=" in opened and "access_type=offline" in opened
    assert "prompt=consent" in opened
    path = tmp_path / "state" / "google" / "accounts" / "agency.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    stored = load_account(tmp_path / "state", "agency")
    assert stored.refresh_token == account.refresh_token
    assert set(stored.scopes) == {ANALYTICS_SCOPE, WEBMASTERS_SCOPE}
    assert "auth: {account: agency}" in said[-1]
    # A source of any client: the refresh grant with the stored token, then the API.
    client = client_for(api, tmp_path, GoogleAuth(account="agency"))
    assert client.post(url(api), {}, resource="GA4 property 123")["echo"] == {}
    assert api.oauth.forms[-1]["grant_type"] == "refresh_token"
    assert api.oauth.forms[-1]["refresh_token"] == stored.refresh_token
    assert client.identity == "the Google account 'agency'"


def test_a_revoked_authorisation_says_which_command_renews_it(api, tmp_path, browser):
    secrets_file = api.oauth.write_client_secrets(tmp_path / "client_secret.json")
    account = connect_google(tmp_path / "state", name="agency", client_secrets=secrets_file,
                             browser="kpireport-test", echo=lambda _: None)
    api.oauth.revoke_refresh_token(account.refresh_token)
    client = client_for(api, tmp_path, GoogleAuth(account="agency"))
    with pytest.raises(AuthenticationError) as caught:
        client.post(url(api), {}, resource="GA4 property 123")
    message = str(caught.value)
    assert "Token has been expired or revoked" in message
    assert "kpireport connect google CONFIG --name agency" in message
    assert account.refresh_token not in redact(message)


def test_an_account_never_connected_says_how_to_connect(tmp_path):
    client = client_for(None, tmp_path, GoogleAuth(account="agency"))
    with pytest.raises(SourceError, match=r"no Google account connected under the name "
                                          r"'agency'.*kpireport connect google CONFIG --name "
                                          "agency"):
        client.post("http://127.0.0.1:9/x", {}, resource="x")


def test_a_scope_left_unticked_is_reported_and_refused_by_the_source_needing_it(
        api, tmp_path, browser):
    api.oauth.consent_scopes = (WEBMASTERS_SCOPE,)
    secrets_file = api.oauth.write_client_secrets(tmp_path / "client_secret.json")
    said = []
    connect_google(tmp_path / "state", name="seo", client_secrets=secrets_file,
                   browser="kpireport-test", echo=said.append)
    assert any("Not granted" in line and ANALYTICS_SCOPE in line for line in said)
    with pytest.raises(AuthenticationError, match=r"connected without .*analytics\.readonly"):
        client_for(api, tmp_path, GoogleAuth(account="seo")).post(url(api), {}, resource="p")


def test_a_refused_consent_stores_nothing(api, tmp_path, browser):
    api.oauth.deny = True
    secrets_file = api.oauth.write_client_secrets(tmp_path / "client_secret.json")
    with pytest.raises(ConnectError, match="access_denied"):
        connect_google(tmp_path / "state", name="agency", client_secrets=secrets_file,
                       browser="kpireport-test", echo=lambda _: None)
    assert not (tmp_path / "state" / "google" / "accounts" / "agency.json").exists()


def test_a_service_account_key_given_to_connect_is_refused_clearly(api, tmp_path):
    with pytest.raises(ConnectError, match="not an OAuth client file of type 'Desktop app'"):
        connect_google(tmp_path / "state", name="agency", client_secrets=api.key,
                       echo=lambda _: None)


def test_the_connect_command_keeps_the_account_in_the_configs_state_folder(
        api, tmp_path, browser, monkeypatch, capsys):
    from kpireport.cli import main

    secrets_file = api.oauth.write_client_secrets(tmp_path / "client_secret.json")
    monkeypatch.setattr(webbrowser, "get", lambda using=None: browser)
    # The state folder of the config's runs with this output folder, as `run --output` uses.
    assert main(["connect", "google", str(ROOT / "config.example.yaml"), "--name", "agency",
                 "--client-secrets", str(secrets_file), "--output", str(tmp_path / "out")]) == 0
    state = tmp_path / "out" / ".kpireport"
    assert (state / "google" / "accounts" / "agency.json").exists()
    stored = load_account(state, "agency")
    out = capsys.readouterr().out
    assert "Connected the Google account 'agency'" in out
    assert stored.refresh_token not in out


def test_validate_finds_a_missing_key_file_or_an_unset_variable_offline(tmp_path, monkeypatch):
    context = make_context(tmp_path)
    assert GoogleAuth(service_account_file="nope.json").problems(context) == [
        f"auth.service_account_file: {tmp_path / 'nope.json'} does not exist (the service "
        "account's JSON key, downloaded from the Google Cloud console)"]
    monkeypatch.delenv("GA4_KEY", raising=False)
    [problem] = GoogleAuth(service_account_env="GA4_KEY").problems(context)
    assert "GA4_KEY is not set" in problem
    monkeypatch.setenv("GA4_KEY", "{}")
    assert GoogleAuth(service_account_env="GA4_KEY").problems(context) == []
    assert GoogleAuth(account="agency").problems(context) == []  # checked at the first call
