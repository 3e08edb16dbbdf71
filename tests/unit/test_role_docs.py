"""scripts/role_docs.py (the lint stage's role-docs check) finds every kind of drift it promises to,
and leaves the hand-written parts of a README alone. The repository's own roles are checked by
`make lint` itself (scripts/lint.sh), not again here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from arena_loader import REPO_ROOT, load_source

role_docs = load_source("scripts/role_docs.py")

SPEC = """---
argument_specs:
  main:
    short_description: A test role
    options:
      demo_port:
        type: int
        default: 443
        description: Port the demo listens on.
      demo_name:
        type: str
        default: "{{ arena_project }}-demo"
        description: Name of the demo.
      demo_sources:
        type: list
        elements: str
        required: true
        description: CIDRs allowed in.
"""
DEFAULTS = """---
demo_port: 443
demo_name: "{{ arena_project }}-demo"
"""
META = "---\ngalaxy_info: {author: t, description: d, license: MIT, platforms: []}\ndependencies: []\n"
README = """# demo

Hand-written intro: anything may be written here.

<!-- BEGIN_ANSIBLE_DOCS -->
<!-- END_ANSIBLE_DOCS -->

## Example
Hand-written example.
"""


@pytest.fixture
def role(tmp_path: Path) -> Path:
    """A role whose README was just generated: it passes the check."""
    root = tmp_path / "demo"
    for rel, text in {
        "meta/main.yml": META,
        "meta/argument_specs.yml": SPEC,
        "defaults/main.yml": DEFAULTS,
        "README.md": README,
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    role_docs.render(root, root / "README.md")
    assert role_docs.check_readme(root) == []
    assert role_docs.check_defaults(root) == []
    return root


def test_the_variables_section_comes_from_the_spec_and_the_rest_stays(role: Path) -> None:
    text = (role / "README.md").read_text()
    assert text.startswith("# demo\n\nHand-written intro: anything may be written here.\n")
    assert text.endswith("## Example\nHand-written example.\n")
    assert "| `demo_port` | int | no | `443` | Port the demo listens on. |" in text
    assert "| `demo_sources` | list of str | yes |  | CIDRs allowed in. |" in text


def test_an_edit_inside_the_generated_section_is_drift(role: Path) -> None:
    readme = role / "README.md"
    readme.write_text(readme.read_text().replace("`443`", "`80`"))
    [error] = role_docs.check_readme(role)
    assert "README.md: differs from its meta/argument_specs.yml (run make role-docs)" in error
    assert "-| `demo_port` | int | no | `80` |" in error


def test_an_edit_outside_it_is_not(role: Path) -> None:
    readme = role / "README.md"
    readme.write_text(readme.read_text().replace("Hand-written example.", "Another example."))
    assert role_docs.check_readme(role) == []


def test_a_spec_change_without_make_role_docs_is_drift(role: Path) -> None:
    spec = role / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("Port the demo listens on.", "HTTPS port."))
    assert len(role_docs.check_readme(role)) == 1


def test_a_readme_without_markers_is_refused(role: Path) -> None:
    (role / "README.md").write_text("# demo\n")
    assert role_docs.check_readme(role) == [
        f"{role / 'README.md'}: no <!-- BEGIN_ANSIBLE_DOCS --> / <!-- END_ANSIBLE_DOCS --> markers around its"
        " Variables section"
    ]


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        (
            DEFAULTS.replace("443", "80"),
            "demo_port is 80 in defaults/main.yml but 443 in meta/argument_specs.yml (entry point main)",
        ),
        (
            DEFAULTS.replace("demo_port: 443\n", ""),
            "demo_port has default 443 in meta/argument_specs.yml (entry point main) but is not in defaults/main.yml",
        ),
        (
            DEFAULTS + "demo_extra: true\n",
            "demo_extra is in defaults/main.yml but in no entry point of meta/argument_specs.yml",
        ),
    ],
    ids=["different-value", "missing-default", "unspecified-default"],
)
def test_defaults_and_spec_must_agree(role: Path, defaults: str, message: str) -> None:
    (role / "defaults" / "main.yml").write_text(defaults)
    assert role_docs.check_defaults(role) == [f"{role}: {message}"]


def test_a_role_without_defaults_needs_no_spec_defaults(role: Path) -> None:
    shutil.rmtree(role / "defaults")
    assert len(role_docs.check_defaults(role)) == 2  # demo_port and demo_name


def test_hardening_profiles_table_is_the_profiles() -> None:
    """The one hand-written table of role values (roles/hardening/README.md, Profiles) states what
    vars/main.yml's profiles and tiers.yml's ports give: it once said tcp/80 for admin, which opens 443."""
    role = REPO_ROOT / "roles" / "hardening"
    profiles = yaml.safe_load((role / "vars" / "main.yml").read_text())["__hardening_profiles"]
    tiers = yaml.safe_load((REPO_ROOT / "tiers.yml").read_text())["arena_tiers"]
    section = (role / "README.md").read_text().split("\n## Profiles\n")[1].split("\n## ")[0]
    rows = {
        cells[0].strip("` "): [cell.strip() for cell in cells[1:]]
        for cells in (line.strip().strip("|").split("|") for line in section.splitlines())
        if cells[0].strip().startswith("`hardening_")
    }
    for column, tier in enumerate(("web", "api", "admin")):
        profile, rule = profiles[tier], profiles[tier]["firewall_rules"][0]
        assert rows["hardening_umask"][column] == profile["umask"], tier
        assert rows["hardening_shell_tmout"][column] == str(profile["tmout"]), tier
        assert rows["hardening_pam_faillock_deny"][column] == str(profile["faillock_deny"]), tier
        assert rows["hardening_sshd_enabled"][column].startswith(str(profile["sshd_enabled"]).lower()), tier
        port = tiers[tier]["port"]
        assert rows["hardening_firewall_rules"][column].startswith(
            f"{rule['proto']}/{port} from {', '.join(rule['sources'])}"
        ), tier
