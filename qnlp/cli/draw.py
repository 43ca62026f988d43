"""``qnlp draw``: a sentence's diagram to an image file.

The output is checked before the sentence is parsed (a format matplotlib
writes, a folder that takes the file) and written atomically, so a bad
``-o`` costs nothing and a failed draw leaves any old image in place.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from qnlp.errors import ConfigError
from qnlp.files import atomic_path, check_writable_file, reported_write


def image_format(path: str | Path, option: str = '-o') -> str:
    """The image format of ``path`` by its extension, if matplotlib writes
    it; else a :class:`~qnlp.errors.ConfigError` listing the formats.

    >>> image_format('diagram.PNG')
    'png'
    >>> image_format('diagram.xyz')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: -o diagram.xyz: unsupported image format 'xyz'; use one of ...
    """
    import matplotlib
    from matplotlib.backend_bases import FigureCanvasBase
    supported = sorted(FigureCanvasBase.get_supported_filetypes())
    if not shutil.which(matplotlib.rcParams['pgf.texsystem']):
        supported.remove('pgf')   # PGF output runs LaTeX
    extension = Path(path).suffix.lower().lstrip('.')
    if extension not in supported:
        found = f"unsupported image format {extension!r}" if extension \
            else "no file extension"
        raise ConfigError(f"{option} {path}: {found}; use one of "
                          f"{', '.join(supported)}")
    return extension


def run_draw(args: argparse.Namespace) -> int:
    """Handle ``qnlp draw``: check ``-o``, parse, draw atomically."""
    import matplotlib
    matplotlib.use('Agg')

    from qnlp.parsing import default_parser
    image = image_format(args.output)
    check_writable_file(args.output, '-o')
    diagram = default_parser(args.tagger, args.spacy_pipeline).parse(
        args.sentence, args.target)
    with reported_write(args.output, '-o'), \
            atomic_path(args.output) as temporary, \
            open(temporary, 'wb') as handle, \
            matplotlib.rc_context({'savefig.format': image}):
        diagram.draw(path=handle)
    print(f"diagram written to {args.output}")
    return 0
