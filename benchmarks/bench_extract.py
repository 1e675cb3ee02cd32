"""Frame extraction throughput (frames written per second) with 1 and ``--workers`` processes, and reading costs.

Writes ``--videos`` synthetic MPEG-4 clips (``--frames`` frames of ``--width`` x ``--height``, moving gradients)
into a temporary folder with PyAV, then times:

* ``extract_videos(..., size=(112, 112))`` keeping every frame, with 1 worker and with ``--workers``;
* a plain reference: a single-process loop of PyAV ``decode`` + Pillow resize + JPEG save (what one would write
  by hand), to show the library's overhead (ratio ~1 with 1 worker);
* reading 16-frame clips: ``VideoFileDataset`` (decode per item) vs ``FrameFolderDataset`` on the extracted
  JPEGs.

Run (fix the thread count; the machine may be shared)::

    OMP_NUM_THREADS=1 python benchmarks/bench_extract.py --workers 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from temporal_condense.data import FrameFolderDataset, VideoFileDataset, list_frames, list_videos
from temporal_condense.data.extract import extract_videos


def write_clip(path: Path, frames: int, width: int, height: int, seed: int) -> None:
    """An MPEG-4 clip of moving colour gradients (compresses like real footage better than flat colours)."""
    import av

    g = torch.Generator().manual_seed(seed)
    base = torch.rand(3, 1, 1, generator=g)
    ys = torch.linspace(0, 1, height)[:, None]
    xs = torch.linspace(0, 1, width)[None, :]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            phase = i / frames
            img = (base + 0.5 * torch.sin(6.28 * (xs + ys + phase))).clamp(0, 1)
            arr = (img.expand(3, height, width) * 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def plain_extract(videos: list[Path], dst: Path, size: tuple[int, int]) -> int:
    """The hand-written reference: decode every frame, resize with Pillow, save as JPEG."""
    import av

    n = 0
    for v in videos:
        out = dst / v.stem
        out.mkdir(parents=True)
        with av.open(str(v)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                frame.to_image().resize((size[1], size[0])).save(out / f"frame{i + 1:06d}.jpg", quality=90)
                n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    size = (112, 112)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.videos):
            (root / "src" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
            write_clip(root / "src" / f"c{i % 2}" / f"v{i:03d}.mp4", args.frames, args.width, args.height, i)
        total = args.videos * args.frames
        print(f"{args.videos} videos x {args.frames} frames of {args.width}x{args.height} -> 112x112 JPEGs")

        start = time.perf_counter()
        plain_extract(list_videos(root / "src"), root / "plain", size)
        t_plain = time.perf_counter() - start
        rates = {}
        for workers in sorted({1, args.workers}):
            report = extract_videos(root / "src", root / f"out{workers}", size=size, workers=workers, progress=False)
            assert report.frames == total and not report.broken
            rates[workers] = report.frames / report.seconds
            print(f"extract_videos, {workers} worker(s): {rates[workers]:8.0f} frames/s ({report.seconds:.2f} s)")
        print(
            f"plain loop (1 process):        {total / t_plain:8.0f} frames/s   library / plain = "
            f"{rates[1] / (total / t_plain):.2f}"
        )
        if args.workers > 1:
            print(f"speed-up with {args.workers} workers: {rates[args.workers] / rates[1]:.2f}x")

        videos = list_videos(root / "src")
        labels = [int(v.parent.name[1:]) for v in videos]
        vds = VideoFileDataset(videos, labels, ["c0", "c1"], frames=16, size=size)
        folders = [root / "out1" / v.parent.name / v.stem for v in videos]
        fds = FrameFolderDataset(folders, labels, ["c0", "c1"], frames=16)
        assert len(list_frames(folders[0])) == args.frames
        for name, ds in (("VideoFileDataset (decode)", vds), ("FrameFolderDataset (JPEG)", fds)):
            start = time.perf_counter()
            for i in range(len(ds)):
                ds[i]
            per = (time.perf_counter() - start) / len(ds)
            print(f"{name}: {per * 1e3:7.1f} ms per 16-frame clip")


if __name__ == "__main__":
    main()
