"""What the XTTS engine tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def xtts_agreed_on_one_thread() -> Iterator[None]:
    """The licence agreed (COQUI_TOS_AGREED) and torch on one thread for a module's tests: two
    cores shared with other processes, torch's intra-op threads only fight."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COQUI_TOS_AGREED", "1")
        yield
    torch.set_num_threads(threads)
