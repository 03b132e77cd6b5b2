"""The reference model's, cycle model's and energy model's figures are those of the committed
digests (tests/data/reference_digests.json; ``python -m tests.reference_digest`` explains)."""

from __future__ import annotations

import json

import pytest

from tests.reference_digest import DIGESTS, QUICK_CASES, digest, normalized


@pytest.mark.parametrize("name", sorted(QUICK_CASES))
def test_outputs_match_the_committed_digest(name):
    assert digest(QUICK_CASES[name]) == json.loads(DIGESTS.read_text())[name], (
        f"{name}: the JSON output changed; if on purpose, run python -m tests.reference_digest "
        "--update and say why in the commit")


def test_digest_ignores_only_machine_dependent_fields():
    a = '{"accuracy": 0.9, "images_per_second": 10.0}\n{"accuracy": 0.8}'
    assert normalized(a) == [{"accuracy": 0.9}, {"accuracy": 0.8}]
    assert normalized('{\n  "mismatches": 0,\n  "simulation_seconds": 2}') == [{"mismatches": 0}]
