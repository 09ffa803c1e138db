"""API keys and tokens of known providers, by their documented formats.

Each format has a distinctive prefix or structure, so a hit is strong evidence on its
own and needs no column name.  The label names the provider (never the value).  A
found secret is never sent anywhere to "verify" it.
"""

from __future__ import annotations

from typing import ClassVar

from veil.detect.base import Detector, Pattern, shannon_entropy

_B = r"(?:^|[^A-Za-z0-9_\-])("  # left edge: token characters may not precede
_E = r")(?:$|[^A-Za-z0-9_\-])"  # right edge

# (provider, pattern of the token itself, score)
PROVIDERS: tuple[tuple[str, str, float], ...] = (
    ("AWS access key id", r"(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[0-9A-Z]{16}", 0.95),
    ("GCP API key", r"AIza[0-9A-Za-z_\-]{35}", 0.95),
    ("GitHub token", r"gh[pousr]_[A-Za-z0-9]{36,251}", 0.99),
    ("GitHub fine-grained token", r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}", 0.99),
    ("GitLab token", r"gl(?:pat|dt|rt|ptt|ft|cbt|imt|oas|agent)-[A-Za-z0-9_\-]{20,64}", 0.97),
    ("Slack token", r"xox[abposre]-[0-9A-Za-z\-]{10,250}", 0.97),
    ("Stripe secret key", r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,247}", 0.98),
    (
        "OpenAI API key",
        r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}",
        0.99,
    ),
    ("OpenAI project key", r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,250}", 0.95),
    ("Anthropic API key", r"sk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_\-]{80,120}", 0.99),
    ("Twilio API key", r"SK[0-9a-f]{32}", 0.85),
    ("SendGrid API key", r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}", 0.99),
    ("Mailgun API key", r"key-[0-9a-f]{32}", 0.9),
    ("npm token", r"npm_[A-Za-z0-9]{36}", 0.98),
    ("PyPI token", r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,300}", 0.99),
    ("Hugging Face token", r"hf_[A-Za-z]{34}", 0.95),
    ("Shopify token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", 0.98),
    ("DigitalOcean token", r"do[por]_v1_[a-f0-9]{64}", 0.99),
    ("HashiCorp Vault token", r"hv[sbr]\.[A-Za-z0-9_\-]{24,200}", 0.95),
    ("Databricks token", r"dapi[a-f0-9]{32}(?:-[0-9])?", 0.95),
    ("Google OAuth client secret", r"GOCSPX-[A-Za-z0-9_\-]{28}", 0.99),
    ("Google OAuth access token", r"ya29\.[0-9A-Za-z_\-]{20,500}", 0.95),
    ("Google OAuth refresh token", r"1//0[A-Za-z0-9_\-]{40,300}", 0.9),
    ("Square token", r"(?:sq0csp|sq0atp|EAAA)[0-9A-Za-z_\-]{22,60}", 0.9),
    ("Heroku API key", r"HRKU-[A-Za-z0-9_\-]{60}", 0.97),
    ("Atlassian API token", r"ATATT3[A-Za-z0-9_=\-]{150,250}", 0.97),
    ("Telegram bot token", r"[0-9]{8,10}:AA[0-9A-Za-z_\-]{33}", 0.95),
    ("Linear API key", r"lin_(?:api|oauth)_[A-Za-z0-9]{40}", 0.98),
    ("Postman API key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", 0.99),
    ("Grafana token", r"(?:glsa_[A-Za-z0-9]{32}_[a-fA-F0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,2})", 0.97),
    ("Doppler token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}", 0.98),
    ("Pulumi token", r"pul-[a-f0-9]{40}", 0.97),
    ("Terraform Cloud token", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}", 0.98),
    ("New Relic key", r"NR(?:AK|AA|II)-[A-Z0-9]{27}", 0.95),
    ("Dynatrace token", r"dt0[a-z][0-9]{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}", 0.99),
    ("Sentry token", r"sntr[ysu]_[A-Za-z0-9+/=_]{40,200}", 0.97),
    ("Mailchimp API key", r"[0-9a-f]{32}-us[0-9]{1,2}", 0.95),
    ("Supabase token", r"sbp_[a-f0-9]{40}", 0.97),
    ("age secret key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", 0.99),
    ("Alibaba Cloud access key", r"LTAI[A-Za-z0-9]{20}", 0.9),
    ("Facebook access token", r"EAA[A-Za-z0-9]{100,250}", 0.85),
    ("Discord bot token", r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}", 0.9),
    ("Azure storage account key", r"AccountKey=[A-Za-z0-9+/]{86}==", 0.98),
    ("Azure SAS signature", r"sig=[A-Za-z0-9%]{43,60}(?:%3D|=)", 0.85),
    ("Slack webhook", r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/_\-]{20,120}", 0.97),
    (
        "Discord webhook",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_\-]{60,68}",
        0.97,
    ),
    ("GCP service account", r"\"type\" ?: ?\"service_account\"", 0.9),
    (
        "Twilio auth token",
        r"(?i:twilio[\w ]{0,20}(?:auth)?[_ ]?token[\"' ]{0,3}[:=][\"' ]{0,3})[0-9a-f]{32}",
        0.9,
    ),
)

# AWS secret access keys have no prefix: only right after their well-known names
_AWS_SECRET = (
    r"(?i:aws_?secret_?(?:access_?)?key[\"']?\s{0,3}[:=]\s{0,3}[\"']?)([A-Za-z0-9/+]{40})"
    r"(?:$|[^A-Za-z0-9/+])"
)


class ApiTokenDetector(Detector):
    name = "api_token"
    type = "secret"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        *(Pattern(_B + regex + _E, score, provider) for provider, regex, score in PROVIDERS),
        Pattern(_AWS_SECRET, 0.95, "AWS secret access key"),
    )

    def validate(self, candidate: str, pattern: Pattern) -> float | None:
        # placeholders in docs ("AKIAXXXXXXXXXXXXXXXX", "ghp_xxxx...") are not secrets
        tail = candidate[-16:]
        if len(set(tail)) <= 2 or shannon_entropy(tail) < 1.5:
            return None
        return pattern.score
