"""`POST /v1/synthesize` refusals name their field once: a message that already names it (the
audio formats' own) is not prefixed again by the error renderer. In-process: nothing is
synthesized."""

from __future__ import annotations

import pytest

from synthesis.audio.formats import PCM_RATES

pytestmark = pytest.mark.django_db


def test_a_rate_the_format_lacks_names_sample_rate_once(api, tenant_a):
    answer = api(tenant_a.api_key).post(
        "/v1/synthesize",
        {"text": "Hello.", "format": "pcm", "sample_rate": 12345},
        content_type="application/json",
    )
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "sample_rate")
    allowed = ", ".join(map(str, PCM_RATES))
    assert error["message"] == (
        f"sample_rate: 12345 Hz is not available for pcm; allowed: {allowed}"
    )
