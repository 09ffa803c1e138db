"""Provider formats: one synthetic token per provider, built from its documented shape."""

import pytest

from veil.detect.builtin.api_token import PROVIDERS

_ALNUM = "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vW1xY"
_HEX = "3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a5c7e9b2d4f6a8c0e1b3d5f7a9c"

SAMPLES = {
    "AWS access key id": "AKIA2E0A8F3B244C9986",
    "GCP API key": "AIzaSyD" + "x7Kq9Lm2Np4Rs6Tv8Wy0Bz3Cd5Fg7Hj9",
    "GitHub token": "ghp_" + (_ALNUM + "Zz1234")[:36],
    "GitHub fine-grained token": "github_pat_" + (_ALNUM * 2)[:22] + "_" + (_ALNUM * 3)[:59],
    "GitLab token": "glpat-" + (_ALNUM)[:20],
    "Slack token": "xoxb-2435-8791-" + _ALNUM[:24],
    "Stripe secret key": "sk_live_" + _ALNUM[:24],
    "OpenAI API key": "sk-proj-" + _ALNUM[:20] + "T3BlbkFJ" + _ALNUM[:20],
    "Anthropic API key": "sk-ant-api03-" + (_ALNUM * 4)[:93] + "AA",
    "SendGrid API key": "SG." + _ALNUM[:22] + "." + (_ALNUM * 2)[:43],
    "Mailgun API key": "key-" + _HEX[:32],
    "npm token": "npm_" + (_ALNUM * 2)[:36],
    "PyPI token": "pypi-AgEIcHlwaS5vcmc" + (_ALNUM * 3)[:60],
    "Hugging Face token": "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH",
    "Shopify token": "shpat_" + _HEX[:32],
    "DigitalOcean token": "dop_v1_" + _HEX[:64],
    "HashiCorp Vault token": "hvs." + (_ALNUM * 3)[:90],
    "Databricks token": "dapi" + _HEX[:32],
    "Google OAuth client secret": "GOCSPX-" + _ALNUM[:28],
    "Google OAuth access token": "ya29." + (_ALNUM * 2)[:60],
    "Postman API key": "PMAK-" + _HEX[:24] + "-" + _HEX[:34],
    "Pulumi token": "pul-" + _HEX[:40],
    "New Relic key": "NRAK-" + "ABCDEFGHIJ0123456789KLMNOPQ",
    "Supabase token": "sbp_" + _HEX[:40],
    "Linear API key": "lin_api_" + (_ALNUM * 2)[:40],
    "Telegram bot token": "123456789:AA" + (_ALNUM * 2)[:33],
    "Twilio API key": "SK" + _HEX[:32],
    "Mailchimp API key": _HEX[:32] + "-us14",
    "Doppler token": "dp.pt." + (_ALNUM * 2)[:43],
    "Azure storage account key": "AccountKey=" + (_ALNUM * 3)[:86] + "==",
    "Heroku API key": "HRKU-" + (_ALNUM * 2)[:60],
    "age secret key": "AGE-SECRET-KEY-1" + ("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2)[:58],
}


def test_at_least_thirty_providers() -> None:
    assert len({p for p, _, _ in PROVIDERS}) >= 30


@pytest.mark.parametrize("provider", sorted(k for k, v in SAMPLES.items() if v))
def test_provider_token_is_a_secret(found, provider: str) -> None:
    token = SAMPLES[provider]
    assert token is not None
    hits = found(f"config: {token} end")
    assert [t for t, _ in hits] == ["secret"]
    assert hits[0][1] in token  # the whole token, or its secret part (AccountKey=...)


def test_aws_secret_key_only_after_its_name(found) -> None:
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKQ"
    assert found(key) == []
    assert found(f"aws_secret_access_key = {key}") == [("secret", key)]


@pytest.mark.parametrize("text", ["AKIAXXXXXXXXXXXXXXXX", "ghp_" + "x" * 36, "sk_live_" + "0" * 24])
def test_placeholders_are_not_secrets(found, text: str) -> None:
    assert found(text) == []
