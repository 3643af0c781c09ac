"""The intar dialect's Python op classes (generated from dialect/*.td) and extensions."""
