"""Learning: data synthesis, networks, training, inference and interpretation back ends. No Qt."""
