"""Compiled translations are built, not committed (docs/OPERATIONS.md, "Languages").

Django reads ``.mo`` files; the repository keeps only the ``.po`` catalogues. A fresh machine has
Python but not GNU gettext's ``msgfmt`` (the ``compilemessages`` command needs it), so Babel,
pure Python, compiles them: the launcher, the test runner and the tests' conftest call
``messages_compile`` before anything reads a translation.
"""

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

BASE_DIR = Path(__file__).resolve().parent.parent
CATALOGUE_PATTERN = "locale/*/LC_MESSAGES/*.po"


def catalogues(base_dir: Path = BASE_DIR) -> list[Path]:
    """The project's catalogues (``locale/``) and those of its packages (``<package>/**/locale/``).

    Packages are the top-level directories with an ``__init__.py``, so the virtualenv and
    ``var/`` are never walked."""
    found = set(base_dir.glob(CATALOGUE_PATTERN))
    for package in base_dir.iterdir():
        if (package / "__init__.py").is_file():
            found.update(package.glob(f"**/{CATALOGUE_PATTERN}"))
    return sorted(found)


def messages_compile(base_dir: Path = BASE_DIR) -> list[Path]:
    """Compile each catalogue whose ``.mo`` is missing or older than it; returns those written.

    Fuzzy entries are left out, as ``msgfmt`` does. Each file is written beside its target and
    renamed over it, so processes compiling at once (pytest-xdist workers) never read half a file.
    """
    written = []
    for po_path in catalogues(base_dir):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalogue = read_po(po_file, abort_invalid=True)
        partial = mo_path.with_name(f".{mo_path.name}.{os.getpid()}")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalogue)
        partial.replace(mo_path)
        written.append(mo_path)
    return written
