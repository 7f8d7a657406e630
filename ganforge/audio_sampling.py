"""``ganforge sample`` for audio runs: WAV files and a spectrogram grid.

--out DIR/      one 16-bit WAV per clip (``000003-3.wav``: index and class name for conditional runs)
                plus ``spectrograms.png`` (one tile per clip)
--out NAME.wav  the clips one after another, 0.25 s of silence between them (one clip for -n 1)
--out NAME.png  the spectrogram grid alone
(.npz goes through the generic path: int16 PCM arrays ``x``, ``y``.)
"""
from __future__ import annotations

from pathlib import Path

from ganforge.errors import GanforgeError
from ganforge.utils.audio import concatenate, save_spectrogram_grid, save_wav


def write_audio(gen, args, knobs: dict) -> int:
    data = gen.dataset
    rate = int((data.meta or {}).get("sample_rate") or 16000)
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in ("", ".wav", ".png"):
        raise GanforgeError(f"--out {out}: an audio run writes a folder (WAVs + spectrograms.png), NAME.wav, "
                            "NAME.png (spectrograms) or NAME.npz.")
    x, y = gen.sample_with_labels(args.num, seed=args.seed, labels=args.label, **knobs)
    nrow = min(args.nrow, args.num) if args.nrow else None
    if suffix == ".wav":
        save_wav(concatenate(x, rate), out, rate)
    elif suffix == ".png":
        save_spectrogram_grid(x, out, rate, nrow)
    else:
        out.mkdir(parents=True, exist_ok=True)
        names = data.class_names or []
        for i, clip in enumerate(x):
            label = "" if y is None else "-" + (names[int(y[i])] if int(y[i]) < len(names) else str(int(y[i])))
            save_wav(clip, out / f"{i:06d}{label}.wav", rate)
        save_spectrogram_grid(x, out / "spectrograms.png", rate, nrow)
    print(f"wrote {args.num} clips ({rate} Hz) to {out}")
    return 0
