"""A secret is masked in every form it is quoted in: Python's repr, JSON, base64."""

import base64
import json

from kpireport.secrets import redact, register_secret


def test_a_secret_is_masked_as_python_quotes_it():
    secret = "pa'ss\\wo\nrd-X1"
    register_secret(secret)
    other = 'pa"ss\\wo\nrd-X2'  # Python quotes this one with ', the first with "
    register_secret(other)
    for text in (repr(secret), repr({"password": secret}), str(ValueError(repr(secret))),
                 json.dumps({"p": secret}), repr(other), repr([other])):
        assert "wo" not in redact(text).replace("password", ""), text
        assert "***" in redact(text)


def test_a_secret_is_masked_in_an_smtp_auth_exchange():
    password = "s3cret-Smtp-pass"
    register_secret(password)
    login = base64.b64encode(password.encode()).decode()
    for user in ("reports", "r", "ab", "reports@agency.example"):
        plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        echoed = redact(f"535 5.7.8 authentication failed: {plain}")
        assert plain not in echoed and "***" in echoed
        # What is left of the encoded string cannot spell the password back.
        rest = echoed.split(": ", 1)[1].replace("***", "")
        assert len(rest) <= len(base64.b64encode(f"\0{user}\0".encode())) + 4
    assert redact(f"334 {login}") == "334 ***"


def test_short_or_ordinary_text_is_not_masked():
    register_secret("Zq9!Zq9!")
    assert redact("the report for October is ready") == "the report for October is ready"
