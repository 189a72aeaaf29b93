"""Long commands say how far they got, through one printer (wallet/progress.py)."""

import re

import pytest
from django.core.management import call_command

from wallet import progress
from wallet.audit import CHECKS


def test_a_line_counts_done_of_total_then_the_details_then_the_seconds(monkeypatch):
    # Given a printer that may print at every update
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)
    lines: list[str] = []
    printer = progress.Progress(lines.append, noun="final", total=200)

    # When the command has 120 of 200 done, 80 processing and nothing approved
    printer.update(120, "80 processing", "")

    # Then one line says so, empty details left out
    assert len(lines) == 1
    assert re.fullmatch(r"  120/200 final, 80 processing, \d+ s", lines[0]), lines


def test_a_count_without_a_known_total_is_shown_alone(monkeypatch):
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)
    lines: list[str] = []

    progress.Progress(lines.append, noun="re-sealed").update(1500)

    assert re.fullmatch(r"  1500 re-sealed, \d+ s", lines[0]), lines


def test_a_command_that_ends_within_the_interval_prints_no_progress(monkeypatch):
    # Given the usual interval, far longer than these updates take
    monkeypatch.setattr(progress, "EVERY_SECONDS", 3600.0)
    lines: list[str] = []
    printer = progress.Progress(lines.append, noun="checks", total=3)

    for done in range(1, 4):
        printer.update(done)

    assert lines == []


@pytest.mark.django_db
def test_ledger_audit_says_which_checks_it_has_done_as_it_goes(monkeypatch, capsys):
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)

    call_command("ledger_audit")

    out = capsys.readouterr().out
    names = list(CHECKS)
    for done, name in enumerate(names, start=1):
        assert re.search(rf"^  {done}/{len(names)} checks, {name}, \d+ s$", out, re.MULTILINE), out
    assert out.rstrip().endswith("ledger audit clean")
