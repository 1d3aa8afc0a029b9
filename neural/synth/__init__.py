"""Synthetic sketches for training: the curves a person draws for an operation, hidden-line
removal against the result, human-like strokes, and exact rasterised stroke and role labels.

    operation_curves (3D curves on the result)  ->  visible_runs (pixel polylines a viewer sees)
      ->  humanise (strokes as a hand draws them)  ->  rasterise / to_sketch_strokes
"""
