"""Colored point clouds from a sketch and a prompt (mode `points`, after STPD).

    objects, furniture, shapes   part-assembled objects of 11 categories, in millimetres, Z up
    palette, words, prompts      named colors and materials, the prompt grammar and its parser
    drawing                      a person's sketch of an object: views, hidden lines, the human hand
    data, cli, sheet             items, shards on the worker pool, `sketchforge-points-data`
    frame                        the networks' frame from a sketch, and the way back to the world
    net, diffusion, train        the sketch/text-conditioned denoisers, staged sampling, training
    backend                      the `points` back end on the contract
"""
