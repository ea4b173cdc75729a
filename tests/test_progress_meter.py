"""The progress bar's estimate of how many records a run will read."""

from __future__ import annotations

from cartloader.input.meter import InputMeter
from cartloader.models import CartInput


def test_estimate_follows_the_input_size_and_reads_one_line_in_n_with_shards() -> None:
    line = b'{"hs_cart_name": "x"}'  # 21 bytes + newline: 1000 lines make 22,000 bytes
    whole, shard = InputMeter(22_000), InputMeter(22_000, shards=4)
    for number in range(1, 101):
        whole.saw(CartInput(number, {}, raw=line))
    for number in range(1, 401, 4):
        shard.saw(CartInput(number, {}, raw=line))
    assert whole.estimated_total() == 1000
    assert shard.estimated_total() == 100 + (1000 - 397) // 4
    assert InputMeter(22_000, limit=50).estimated_total() == 50
