"""Game scenes from casual top-down sketches (mode `scene`, after Sketch2Scene).

    noise, lines                 smooth random fields; the world's grid and the splines laid on it
    terrain, water, roads        fractal ground and ridges; rivers and lakes; graded roads and bridges
    places                       villages, forests and their trees
    world                        `make_world(seed)`: the world and its maps (codes and conventions)
    sketching                    `sketch_world(world, rng)`: the top-down sketch a person draws of it
    data, cli, sheet             items, shards on the worker pool, `sketchforge-scene-data`
    layout                       `Layout`: what a sketch means, handed from a reader to the assembly
    net, reading, train          the layout network, `read_layout(net, sketch)`, `sketchforge-train-scene`
    rules                        `rules_layout(sketch)`: the baseline reader, no network
    assemble, assets             `assemble(layout)`: the playable scene by rules; the low-poly objects
    backend                      the `scene` back end
"""
