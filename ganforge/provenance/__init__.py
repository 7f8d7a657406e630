"""Provenance of generated images: keyed invisible watermarks (``watermark``) and a detector of
generated images (``detect``). See docs/PROVENANCE.md."""
