"""The weights, model cards and other files Sketchforge ships, as package data (`neural.assets.asset_path`)."""
