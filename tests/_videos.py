"""Tiny test videos written with PyAV: frame i is a flat colour encoding i (R = 12 i, G = 255 - 12 i; <= 21 frames)."""

from __future__ import annotations

from pathlib import Path

import torch


def write_video(path: Path, frames: int = 12, size: tuple[int, int] = (24, 32), fps: int = 10) -> Path:
    """Write an MPEG-4 video of ``frames`` flat-coloured frames of ``size`` (H, W) at ``fps``."""
    import av
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            img = Image.new("RGB", (size[1], size[0]), (12 * i, 255 - 12 * i, 128))
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def frame_ids(video: torch.Tensor) -> list[int]:
    """Recover the frame index of each frame of a uint8 [N, 3, H, W] or float [N, 3, H, W] clip."""
    scale = 255.0 if video.is_floating_point() else 1.0
    red = video[:, 0].float().mean(dim=(-1, -2)) * scale
    return [round(v / 12) for v in red.tolist()]
