"""Sketch2CAD interpretation networks: one multi-task network that reads a sketch drawn over the
model (strokes + context normal + depth) and gives the operation class, the stitching-face map and
the curve role of every stroke pixel; its training loop and a numpy-in, numpy-out predictor.

    net.py    the network and its self-describing configuration (`NetConfig`)
    train.py  `sketchforge-train-cad`: seeded, resumable training with validation and early stopping
    infer.py  `CadNet`: load safetensors weights, predict on numpy arrays
"""
