"""The method registry: one table row's configuration derived from a shared base configuration."""

from __future__ import annotations

from typing import Any, Literal

from temporal_condense.errors import ConfigError
from temporal_condense.pipeline.config import PipelineConfig

__all__ = ["METHODS", "method_config"]

METHODS: tuple[str, ...] = (
    "random_real",
    "DM",
    "DM+SD",
    "MTT",
    "MTT+SD",
    "FRePo",
    "FRePo+SD",
    "kcenter",
    "herding",
    "compact",
    "random_real_compact",
    "static_only",
    "full_data",
    "random_real+MF",
    "DM+MF",
    "MTT+MF",
    "SD-warp",
    "DM+SD-warp",
    "MTT+SD-warp",
)


def method_config(
    method: str,
    base: PipelineConfig,
    *,
    compact_key_frames: int = 2,
    compact_method: Literal["DM", "MTT"] = "DM",
    formation: int = 2,
    warp_videos: int = 16,
    warp_factor: int = 3,
    warp_padding: str = "border",
) -> PipelineConfig:
    """Derive the configuration of one table row from a shared base configuration.

    The base carries the data, the evaluation protocol, stage 1 and the stage-2 hyper-parameters
    (learning rates, iterations, MTT settings); this sets the synthetic set and the matching method:

    * ``"random_real"``: ``videos_per_class`` random real clips (the baseline's storage); no training.
    * ``"random_real_compact"``: the same clips keeping ``compact_key_frames`` frames each (interpolated back
      to the clip length): random real data at the compact variant's storage.
    * ``"DM"`` / ``"MTT"``: the plain baseline (:class:`~temporal_condense.SyntheticVideos`, all frames,
      initialized from real clips) trained with DM / MTT (momentum 0.5, as the published baselines).
    * ``"DM+SD"`` / ``"MTT+SD"``: static-dynamic on the stage-1 statics, random pairing (the paper).
    * ``"FRePo"`` / ``"FRePo+SD"``: the baseline / static-dynamic set trained with FRePo (``distill.frepo``;
      Adam). The published FRePo+SD pairs video ``i`` with static ``i`` and dynamic ``i`` (fixed pairing).
    * ``"kcenter"`` / ``"herding"``: coresets of ``videos_per_class`` real clips per class chosen in the
      embedding of a randomly initialised ``distill.model`` (the published ``distill_coreset.py``).
    * ``"compact"``: static-dynamic with one static and one dynamic per video, fixed pairing, and
      ``compact_key_frames`` dynamic frames interpolated to the clip length; trained with ``compact_method``.
    * ``"static_only"``: the stage-1 statics repeated over time.
    * ``"full_data"``: every real training clip (upper bound).
    * ``"random_real+MF"`` / ``"DM+MF"`` / ``"MTT+MF"``: random real, DM and MTT with multi-formation
      (``synthetic.formation = formation``; :class:`~temporal_condense.formation.MultiFormation`): every stored
      clip holds ``formation^2`` smaller clips, at the storage of the plain rows.
    * ``"SD-warp"`` / ``"DM+SD-warp"`` / ``"MTT+SD-warp"``: static-dynamic with the warp block (the dynamic
      memory moves the static): ``warp_videos`` videos per stored clip, each a stage-1 static stored at
      ``1 / warp_factor`` of the clip's height and width and one translation per frame
      (``dynamic_size (1, 1)``), started from the translations of real clips of its class; ``SD-warp`` keeps
      that start (no distillation), the others train it with DM / MTT. ``warp_padding`` is what the warp moves
      in from outside the image (``"circular"`` for data drawn on a torus).

    Args:
        method: One of :data:`METHODS`.
        base: Shared settings.
        compact_key_frames: Dynamic frames stored by the compact variant.
        compact_method: Matching method of the compact variant.
        formation: Multi-formation factor of the ``+MF`` rows.
        warp_videos: Videos of the ``-warp`` rows per ``synthetic.videos_per_class``.
        warp_factor: How many times smaller the ``-warp`` rows store their statics (height and width).
        warp_padding: ``synthetic.warp_padding`` of the ``-warp`` rows.

    Returns:
        The row's :class:`PipelineConfig` (``name`` = ``method``).

    Raises:
        ConfigError: Unknown method.

    Example:
        >>> method_config("compact", PipelineConfig()).synthetic.pairing
        'fixed'
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    if method.endswith("-warp"):
        plain = method_config("DM+SD" if method == "SD-warp" else method.removesuffix("-warp"), base)
        if base.data.clip_size is None:
            raise ConfigError(f"the {method} row stores its statics at a fraction of data.size: set data.size")
        h, w = base.data.clip_size
        videos = base.synthetic.videos_per_class * warp_videos
        warp = plain.replace(
            name=method,
            static={"static_per_class": videos},
            synthetic={
                "videos_per_class": videos,
                "static_per_class": None,
                "key_frames": None,
                "pairing": "fixed",
                "static_per_video": 1,
                "dynamic_per_video": 1,
                "block": "warp",
                "dynamic_channels": 2,
                "block_init": "default",
                "dynamic_init": "real",
                "static_size": (max(1, h // warp_factor), max(1, w // warp_factor)),
                "dynamic_size": (1, 1),
                "warp_padding": warp_padding,
            },
        )
        return warp.replace(distill={"method": "none"}) if method == "SD-warp" else warp
    if method.endswith("+MF"):
        plain = method_config(method.removesuffix("+MF"), base, compact_key_frames=compact_key_frames)
        return plain.replace(name=method, synthetic={"formation": formation})
    syn = base.synthetic.model_dump(mode="json")
    dist: dict[str, Any] = {}
    static = base.static.model_dump(mode="json")
    if method in ("random_real", "full_data", "random_real_compact"):
        syn.update(kind=method.replace("_compact", ""), key_frames=compact_key_frames if "compact" in method else None)
        dist["method"] = "none"
        static = {"method": "none"}
    elif method in ("DM", "MTT"):
        syn.update(kind="baseline", key_frames=None)
        dist.update(method=method, momentum=0.5)
        static = {"method": "none"}
    elif method in ("kcenter", "herding"):
        syn["kind"] = method
        dist["method"] = "none"
        static = {"method": "none"}
    elif method == "FRePo":
        syn.update(kind="baseline", key_frames=None)
        dist.update(method="FRePo")
        static = {"method": "none"}
    elif method == "FRePo+SD":
        syn.update(
            kind="static_dynamic",
            static_per_class=syn["videos_per_class"],
            static_per_video=1,
            dynamic_per_video=1,
            pairing="fixed",
        )
        dist.update(method="FRePo")
    elif method in ("DM+SD", "MTT+SD"):
        syn.update(kind="static_dynamic")
        dist.update(method=method.split("+")[0], momentum=0.95)
    elif method == "compact":
        syn.update(
            kind="static_dynamic",
            key_frames=compact_key_frames,
            static_per_class=syn["videos_per_class"],
            static_per_video=1,
            dynamic_per_video=1,
            pairing="fixed",
        )
        dist.update(method=compact_method, momentum=0.95)
    else:  # static_only
        syn["kind"] = "static_only"
        dist["method"] = "none"
    return base.replace(name=method, synthetic=syn, distill=dist, static=static)
