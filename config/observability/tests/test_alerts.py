"""deploy/prometheus/alerts.yml: its shape (and ``promtool check rules`` where promtool is
installed), and that every metric its expressions name is one this app exports."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

RULES = Path(settings.BASE_DIR) / "deploy" / "prometheus" / "alerts.yml"
# Prometheus's own series, not the app's.
BUILTIN = {"up"}
FUNCTIONS = {"sum", "max", "min", "rate", "increase", "by", "and", "or", "count", "avg", "on"}


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def exported_names(client) -> set[str]:
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    names = set()
    for family in text_string_to_metric_families(body):
        # A labelled counter nothing counted yet has no samples: its family still names it.
        suffix = "_total" if family.type == "counter" else ""
        names |= {sample.name for sample in family.samples} | {family.name + suffix}
    return names


def test_every_rule_has_an_expression_a_duration_a_severity_and_a_summary():
    for rule in rules():
        assert {"alert", "expr", "for"} <= rule.keys(), rule
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    if promtool := shutil.which("promtool"):
        subprocess.run([promtool, "check", "rules", str(RULES)], check=True)  # noqa: S603


def test_every_metric_the_rules_name_is_exported(client):
    exported = exported_names(client)
    for rule in rules():
        # Label matchers, strings, ranges and grouping labels are not metric names.
        expr = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]|\bby\s*\([^)]*\)', " ", rule["expr"])
        names = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", expr)) - FUNCTIONS - BUILTIN
        assert names <= exported, (rule["alert"], names - exported)
