"""The registered signals, in the order they run (a signal may use the columns of those before it).

Adding a signal is one module and one line here.
"""

from __future__ import annotations

from counterwatch.detect.signals.base import Example, Signal
from counterwatch.detect.signals.brand import BrandMention
from counterwatch.detect.signals.photo import PhotoReuse
from counterwatch.detect.signals.price import PriceAnomaly
from counterwatch.detect.signals.product import ProductLine
from counterwatch.detect.signals.relisting import Relisting
from counterwatch.detect.signals.vocabulary import Vocabulary

SIGNALS: tuple[Signal, ...] = (BrandMention(), ProductLine(), Vocabulary(), PriceAnomaly(), PhotoReuse(), Relisting())

__all__ = ["SIGNALS", "Example", "Signal"]
