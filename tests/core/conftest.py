from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def minimal_text() -> str:
    return (EXAMPLES / "answers-minimal.yaml").read_text()


@pytest.fixture
def full_text() -> str:
    return (EXAMPLES / "answers-full.yaml").read_text()
