"""Stroke suggestion for the face mode: retrieve the library part strokes nearest a person's own.

In the spirit of SketchMetaFace's stroke suggestion: a small convolutional autoencoder
(`network.SuggestNet`) reads a part's strokes as a 64 x 64 image (`parts.part_image`: the part's
box fills the image, left parts mirrored) and its L2-normalised latent is the retrieval embedding.
`library.SuggestionLibrary` holds, for every part type, the clean part strokes of procedural heads
(`drawings.seeded_head`), their embeddings and their polylines, ranks its entries by cosine
similarity to a query and places an entry's polylines into the person's box as ghost strokes.

    drawings.py   the heads and their part images
    network.py    the network, embeddings, weight files
    library.py    the part library: build, query, place, save, load
    training.py   training the network on generated heads
    benchmark.py  the retrieval benchmark (`evaluate`)
"""

from ...synth.reading import DataError
from .benchmark import EVAL_FORMAT, evaluate
from .drawings import head_parts, part_images, seeded_head
from .library import LIBRARY_KIND, SuggestionLibrary, build_library, load_library
from .network import VERSION, WEIGHTS_KIND, SuggestConfig, SuggestNet, embed_images, fingerprint, load_model, save_model
from .training import TrainSettings, _instance_data, train

__all__ = [
    "WEIGHTS_KIND",
    "LIBRARY_KIND",
    "EVAL_FORMAT",
    "VERSION",
    "DataError",
    "SuggestConfig",
    "TrainSettings",
    "SuggestNet",
    "SuggestionLibrary",
    "seeded_head",
    "head_parts",
    "part_images",
    "embed_images",
    "fingerprint",
    "save_model",
    "load_model",
    "build_library",
    "load_library",
    "evaluate",
    "train",
    "_instance_data",  # the tests read the training data
]
