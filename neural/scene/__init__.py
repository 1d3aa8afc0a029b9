"""Game scenes from casual top-down sketches (mode `scene`, after Sketch2Scene): the data side.

    noise, lines                 smooth random fields; the world's grid and the splines laid on it
    terrain, water, roads        fractal ground and ridges; rivers and lakes; graded roads and bridges
    places                       villages, forests and their trees
    world                        `make_world(seed)`: the world and its maps (codes and conventions)
    sketching                    `sketch_world(world, rng)`: the top-down sketch a person draws of it
    data, cli, sheet             items, shards on the worker pool, `sketchforge-scene-data`
"""
