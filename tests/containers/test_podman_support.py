"""The pieces of tests/support/podman.py that need no podman: reading apt's mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.podman import PodmanError, debian_mirror

DEB822 = """\
Types: deb
# a comment: line
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_is_read_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "security.sources").write_text(DEB822.split("\n\n")[1])
    (tmp_path / "debian.sources").write_text(DEB822)
    assert debian_mirror(tmp_path, tmp_path / "absent.list") == "http://mirror.example/debian"


def test_mirror_skips_source_only_and_other_suites(tmp_path: Path) -> None:
    (tmp_path / "a.sources").write_text(
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://other.example/debian\nSuites: trixie\n"
    )
    (tmp_path / "b.sources").write_text("Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\n")
    assert debian_mirror(tmp_path, tmp_path / "absent.list") == "http://b.example/debian"


def test_mirror_falls_back_to_one_line_sources_list(tmp_path: Path) -> None:
    sources_list = tmp_path / "sources.list"
    sources_list.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [signed-by=/usr/share/keyrings/k.gpg arch=amd64] http://list.example/debian bookworm main\n"
    )
    assert debian_mirror(tmp_path, sources_list) == "http://list.example/debian"


def test_no_mirror_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PodmanError, match="add one for bookworm"):
        debian_mirror(tmp_path, tmp_path / "absent.list")
