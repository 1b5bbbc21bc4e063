import random
import string

from cca_notices.mailers.qr import _to_int, qr_modules, qr_runs, qr_segno

PREFIX = "https://ivce.example.org/opt-out/?code="


def test_fast_qr_equals_segno():
    rng = random.Random(4)
    for _ in range(50):
        code = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(10))
        assert qr_modules(PREFIX, code) == _to_int(qr_segno(PREFIX + code))


def test_runs_cover_exactly_the_dark_modules():
    symbol, size = qr_modules(PREFIX, "K7QX2M9PLA")
    rebuilt = 0
    for r, c, n in qr_runs(symbol, size):
        rebuilt |= ((1 << n) - 1) << (r * size + c)
    assert rebuilt == symbol
