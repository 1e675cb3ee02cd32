"""Seed derivation: every derived seed of the library comes from :func:`derive_seed`.

A run has one base seed. Every random draw that must not depend on the order in which work is done (expert
``k``, evaluation run ``r``, item ``i`` of a dataset in epoch ``e``, stage-2 iteration ``t``, the MovingShapes
split) gets its own seed derived from the base seed and labels that name the draw, e.g.
``derive_seed(seed, "expert", k, "init")``. Any subset of the work, done in any order, on any rank, after any
restart, then draws the same numbers. Nothing seeds from the clock.

The derivation is a keyed BLAKE2b hash of the labels' ``repr`` (so ``1`` and ``"1"`` differ, and
``("a", "b")`` differs from ``("a/b",)``), truncated to 63 bits: a non-negative ``int`` that
:func:`torch.manual_seed`, :class:`torch.Generator`, :func:`random.seed` and
:func:`~temporal_condense.models.get_model` accept, stable across runs, platforms and Python versions.

Example:
    >>> from temporal_condense.seeds import derive_seed, seeded_generator
    >>> derive_seed(0, "expert", 3) == derive_seed(0, "expert", 3) != derive_seed(0, "expert", 4)
    True
    >>> 0 <= derive_seed(7, "eval", 0, "model") < 2**63
    True
    >>> g = seeded_generator(0, "stage2")
    >>> bool((torch.rand(2, generator=g) == torch.rand(2, generator=seeded_generator(0, "stage2"))).all())
    True
"""

from __future__ import annotations

import hashlib

import torch

from temporal_condense.errors import ConfigError

__all__ = ["SEED_BITS", "derive_seed", "seeded_generator"]

SEED_BITS = 63
_PERSON = b"temporal_cond"  # BLAKE2b personalization: derived seeds differ from a plain hash of the same text


def derive_seed(seed: int, *labels: int | str) -> int:
    """A 63-bit seed derived from ``seed`` and the labels that name one random draw.

    Args:
        seed: The base seed (an ``int >= 0``).
        *labels: Names of the draw: strings (its purpose) and integers (indices: expert, run, epoch, item).

    Returns:
        An ``int`` in ``[0, 2**63)``; the same inputs give the same seed everywhere.

    Raises:
        ConfigError: ``seed`` is not a non-negative ``int`` or a label is neither ``int`` nor ``str``.

    Example:
        >>> derive_seed(0, "init") == derive_seed(0, "init"), derive_seed(0, 1) == derive_seed(0, "1")
        (True, False)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}")
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, (int, str)):
            raise ConfigError(f"seed labels must be ints or strings, got {label!r} ({type(label).__name__})")
    text = "/".join(repr(v) for v in (int(seed), *labels))
    digest = hashlib.blake2b(text.encode(), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "little") >> (64 - SEED_BITS)


def seeded_generator(seed: int, *labels: int | str) -> torch.Generator:
    """A CPU :class:`torch.Generator` seeded with :func:`derive_seed` ``(seed, *labels)``.

    Example:
        >>> seeded_generator(0, "order").initial_seed() == derive_seed(0, "order")
        True
    """
    return torch.Generator().manual_seed(derive_seed(seed, *labels))
