"""The Sketch2CAD label vocabulary shared by the data, the networks and the fitting (no imports).

An operation class is what the network tells apart; an operation id is what the data records and
the fitting proposes (add and subtract share a class: the sketch shows which by the side its
profile lines leave the face on). A curve role is what a stroke pixel is labelled with.
"""

CLASS_NAMES = ("extrude", "add/subtract", "bevel", "sweep")
OP_IDS = ("extrude", "add", "subtract", "bevel", "sweep")  # `op_id` arrays index this tuple
OP_CLASS = {"extrude": 0, "add": 1, "subtract": 1, "bevel": 2, "sweep": 3}
ROLE_NAMES = ("none", "base", "profile", "offset")  # role map values index this tuple
