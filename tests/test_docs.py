"""The manual: its settings reference is generated from the settings models, and the README stays
an entry page that links into the manual."""

from __future__ import annotations

import re
from pathlib import Path

from gatekeeper.cli.settings_report import reference_markdown
from gatekeeper.config import CONCERNS

ROOT = Path(__file__).resolve().parents[1]


def test_the_settings_reference_is_the_generated_one() -> None:
    committed = (ROOT / "docs/reference/settings.md").read_text()
    assert committed.strip() == reference_markdown().strip(), "docs/reference/settings.md is stale: gatekeeper config reference > docs/reference/settings.md"


def test_every_setting_is_described() -> None:
    reference = reference_markdown()
    for model in CONCERNS.values():
        for name, field in model.model_fields.items():
            assert field.description, f"{name} has no description for the settings reference"
            assert f"`GATEKEEPER_{name.upper()}`" in reference


def test_the_readme_is_an_entry_page_whose_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    targets = re.findall(r"\]\(([^)#]+)\)", readme)
    assert any(t.startswith("docs/") for t in targets), "the README links into the manual"
    missing = [t for t in targets if not t.startswith("http") and not (ROOT / t).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_user_documents_speak_to_users() -> None:
    """Figures name the machine and the command, never a session or an issue."""
    pages = [ROOT / "README.md", ROOT / "models/MODEL_CARD.md", *sorted((ROOT / "docs").rglob("*.md"))]
    offending = [f"{p.relative_to(ROOT)}: {line.strip()[:80]}" for p in pages for line in p.read_text().splitlines()
                 if re.search(r"\b(this|earlier|previous|next) session\b|\bissue #?\d+|\bthe issue's\b", line, re.I)]
    assert not offending, "\n".join(offending)
